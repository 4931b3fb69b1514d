"""Every function's handler, in-process, replaying the fixtures in events/ exactly as
`sam local invoke -e` would, against moto and the RunPod emulator."""

from __future__ import annotations

import json

import pytest

from podgate import runtime
from podgate.admin import ensure_user
from podgate.repositories.dynamo import dynamodb_client
from podgate_local.template import load_stack
from tests.helpers import LambdaContext, load_event, load_function

KEYRING = json.dumps({"kid": "k1", "key": "q" * 64})
ADMIN_PASSWORD = "podgate-local-admin"  # what events/auth.json sends


class FakeSecrets:
    def __init__(self, values: dict[str, str]) -> None:
        self.values = values

    def get(self, secret_id: str, *, max_age: float | None = None) -> str:
        return self.values[secret_id]


def _clear_runtime() -> None:
    for name in dir(runtime):
        fn = getattr(runtime, name)
        if hasattr(fn, "cache_clear"):
            fn.cache_clear()
    dynamodb_client.cache_clear()


@pytest.fixture
def lambda_env(monkeypatch, runpod_emulator, dynamodb_tables):
    stack = load_stack()
    env = {
        **stack.functions["ListPodsFunction"].environment,
        **stack.functions["AuthFunction"].environment,
        "RUNPOD_API_URL": runpod_emulator.url,
        "POWERTOOLS_LOG_LEVEL": "WARNING",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    _clear_runtime()
    secrets = FakeSecrets({env["JWT_SECRET_ID"]: KEYRING, env["RUNPOD_SECRET_ID"]: "test-runpod-key"})
    monkeypatch.setattr(runtime, "secrets", lambda: secrets)
    ensure_user(env["USERS_TABLE"], "admin", ADMIN_PASSWORD, "admin")
    yield env
    _clear_runtime()


def invoke(function: str, event: dict) -> tuple[int, dict]:
    resp = load_function(function).lambda_handler(event, LambdaContext(function))
    # Powertools answers REST events with multiValueHeaders; API Gateway accepts either form.
    content_type = (resp.get("headers") or {}).get("Content-Type") or (resp.get("multiValueHeaders") or {}).get(
        "Content-Type", [None]
    )[0]
    assert content_type == "application/json"
    return resp["statusCode"], json.loads(resp["body"])


@pytest.mark.parametrize(
    "function,fixture,status,detail",
    [
        ("health", "health.json", 200, None),
        ("auth", "auth_wrong_password.json", 401, "Invalid username or password"),
        ("auth", "auth_malformed_body.json", 400, "Request body must be a JSON object"),
        ("auth", "auth_missing_field.json", 422, "Request body failed validation"),
        ("list_pods", "list_pods.json", 200, None),
        ("list_pods", "list_pods_expired_token.json", 401, "Unauthorized"),
        ("list_pods", "get_pod_unknown.json", 404, "Pod not found"),
        ("create_pod", "create_pod_unknown_gpu.json", 422, None),
        ("create_pod", "create_pod_missing_field.json", 422, "Request body failed validation"),
        ("create_pod", "create_pod_unknown_field.json", 422, "Request body failed validation"),
        ("create_pod", "create_pod_malformed_body.json", 400, "Request body must be a JSON object"),
        ("stop_pod", "stop_pod_unknown.json", 404, "Pod not found"),
        ("stop_pod", "stop_pod_by_id_unknown.json", 404, "Pod not found"),
        ("delete_pod", "delete_pod_unknown.json", 404, "Pod not found"),
        ("delete_pod", "delete_pod_by_id_unknown.json", 404, "Pod not found"),
    ],
)
def test_fixture_replay(lambda_env, function, fixture, status, detail):
    code, body = invoke(function, load_event(fixture))
    assert code == status, body
    if detail:
        assert body["detail"] == detail
    if status == 422:
        assert body["errors"] and all({"loc", "msg"} <= set(e) for e in body["errors"])


def test_auth_fixture_issues_a_token_the_authorizer_accepts(lambda_env):
    code, body = invoke("auth", load_event("auth.json"))
    assert code == 200 and body["token_type"] == "bearer" and body["expires_in"] == 3600
    event = {"type": "TOKEN", "authorizationToken": f"Bearer {body['access_token']}",
             "methodArn": "arn:aws:execute-api:us-east-1:123456789012:podgateapi/dev/DELETE/pods"}
    policy = load_function("authorizer").lambda_handler(event, LambdaContext("authorizer"))
    assert policy["principalId"] == "admin"
    assert policy["context"]["role"] == "admin"


@pytest.mark.parametrize("fixture", ["authorizer_garbage_token.json", "authorizer_basic_scheme.json",
                                     "authorizer_alg_none.json"])
def test_authorizer_fixtures_are_unauthorized(lambda_env, fixture):
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        load_function("authorizer").lambda_handler(load_event(fixture), LambdaContext("authorizer"))


def test_seed_session_in_process(lambda_env, runpod_emulator):
    # create → it is listed with its owner → get → stop (twice: idempotent) → delete → gone
    code, created = invoke("create_pod", load_event("create_pod.json"))
    assert code == 200 and set(created) == {"pod_id"}
    pod_id = created["pod_id"]
    code, listing = invoke("list_pods", load_event("list_pods.json"))
    assert code == 200 and listing["pods"] == [pod_id]
    item = listing["items"][0]
    assert (item["name"], item["image"], item["gpu_type"], item["owner"], item["status"]) == (
        "my-pod", "my-image", "Tesla T4", "admin", "RUNNING")
    get = load_event("get_pod_unknown.json")
    get["path"], get["pathParameters"] = f"/pods/{pod_id}", {"pod_id": pod_id}
    assert invoke("list_pods", get) == (200, item)
    stop = load_event("stop_pod_unknown.json")
    stop["body"] = json.dumps({"pod_id": pod_id})
    assert invoke("stop_pod", stop) == (200, {"status": "stopped"})
    assert invoke("stop_pod", stop) == (200, {"status": "stopped"})
    delete = load_event("delete_pod_unknown.json")
    delete["body"] = json.dumps({"pod_id": pod_id})
    assert invoke("delete_pod", delete) == (200, {"status": "deleted"})
    assert invoke("delete_pod", delete)[0] == 404
    assert invoke("list_pods", load_event("list_pods.json")) == (200, {"pods": [], "items": []})
    assert runpod_emulator.pods == []


def test_env_values_are_passed_to_runpod_but_never_returned(lambda_env, runpod_emulator):
    event = load_event("create_pod.json")
    event["body"] = json.dumps({"name": "p", "image": "my-image", "gpu_type": "nvidia-t4",
                                "env": {"HF_TOKEN": "hf_supersecretvalue"}})
    code, created = invoke("create_pod", event)
    assert code == 200
    pod = next(p for p in runpod_emulator.pods if p["id"] == created["pod_id"])
    assert pod["env"]["HF_TOKEN"] == "hf_supersecretvalue"
    _, listing = invoke("list_pods", load_event("list_pods.json"))
    assert "hf_supersecretvalue" not in json.dumps(listing)


def test_unknown_gpu_type_suggests_close_matches(lambda_env):
    code, body = invoke("create_pod", load_event("create_pod_unknown_gpu.json"))
    assert code == 422
    assert "nvidia-t5000" in body["detail"] and "did you mean" in body["detail"]
    assert body["errors"][0]["loc"] == ["body", "gpu_type"]
