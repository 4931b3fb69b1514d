"""POST /auth: exchange a username and password for a bearer token."""

from podgate import runtime
from podgate.http import entrypoint, json_body, make_app
from podgate.models.api import AuthRequest

app = make_app()


@app.post("/auth")
def auth():
    return runtime.auth_service().login(json_body(app, AuthRequest))


lambda_handler = entrypoint(app)
