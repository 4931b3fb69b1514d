"""POST /pods: create a pod on RunPod, owned by the caller."""

from podgate import runtime
from podgate.http import caller, entrypoint, json_body, make_app
from podgate.models.api import CreatePodRequest

app = make_app()


@app.post("/pods")
def create_pod():
    who = caller(app)
    return runtime.pod_service().create(who, json_body(app, CreatePodRequest))


lambda_handler = entrypoint(app)
