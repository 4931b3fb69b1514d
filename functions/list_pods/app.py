"""GET /pods (the caller's pods; every pod for admins) and GET /pods/{pod_id}."""

from podgate import runtime
from podgate.http import caller, entrypoint, make_app

app = make_app()


@app.get("/pods")
def list_pods():
    return runtime.pod_service().list(caller(app))


@app.get("/pods/<pod_id>")
def get_pod(pod_id: str):
    return runtime.pod_service().get(caller(app), pod_id)


lambda_handler = entrypoint(app)
