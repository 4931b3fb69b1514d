"""POST /pods: create a pod on RunPod, owned by the caller; honours Idempotency-Key."""

from podgate import runtime
from podgate.http import caller, entrypoint, json_body, make_app
from podgate.models.api import CreatePodRequest

app = make_app()


@app.post("/pods")
def create_pod():
    who = caller(app)
    req = json_body(app, CreatePodRequest)
    key = app.current_event.headers.get("idempotency-key")
    if key is None:
        return runtime.pod_service().create(who, req)

    from podgate.services import idempotency

    key = idempotency.validate_key(key)
    return idempotency.once(
        who.username,
        key,
        req.model_dump(mode="json"),
        app.lambda_context,
        lambda: runtime.pod_service().create(who, req, idempotency_key=key).model_dump(mode="json"),
    )


lambda_handler = entrypoint(app)
