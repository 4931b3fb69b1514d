"""POST /pods/stop (pod_id in the body, as the seed has it) and POST /pods/{pod_id}/stop."""

from podgate import runtime
from podgate.http import caller, entrypoint, json_body, make_app
from podgate.models.api import PodIdRequest

app = make_app()


@app.post("/pods/stop")
def stop_pod():
    who = caller(app)
    return runtime.pod_service().stop(who, json_body(app, PodIdRequest).pod_id)


@app.post("/pods/<pod_id>/stop")
def stop_pod_by_id(pod_id: str):
    return runtime.pod_service().stop(caller(app), pod_id)


lambda_handler = entrypoint(app)
