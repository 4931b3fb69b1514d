"""DELETE /pods (pod_id in the body, as the seed has it) and DELETE /pods/{pod_id}."""

from podgate import runtime
from podgate.http import caller, entrypoint, json_body, make_app
from podgate.models.api import PodIdRequest

app = make_app()


@app.delete("/pods")
def delete_pod():
    who = caller(app)
    return runtime.pod_service().delete(who, json_body(app, PodIdRequest).pod_id)


@app.delete("/pods/<pod_id>")
def delete_pod_by_id(pod_id: str):
    return runtime.pod_service().delete(caller(app), pod_id)


lambda_handler = entrypoint(app)
