"""The user's document, end to end through the local gateway: its curl session and errors."""

from __future__ import annotations

import requests

from tests.localstack import ADMIN_PASSWORD, mint


def test_the_seed_curl_session_in_order(stack):
    base = stack.url
    # POST /auth
    resp = requests.post(f"{base}/auth", json={"username": "admin", "password": ADMIN_PASSWORD}, timeout=30)
    assert resp.status_code == 200
    body = resp.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    auth = {"Authorization": f"Bearer {body['access_token']}"}
    # 1. health
    resp = requests.get(f"{base}/health", timeout=30)
    assert (resp.status_code, resp.json()) == (200, {"status": "ok", "source": "runpod_api"})
    assert resp.headers["Content-Type"] == "application/json"
    # 2. list
    resp = requests.get(f"{base}/pods", headers=auth, timeout=30)
    assert resp.status_code == 200 and isinstance(resp.json()["pods"], list)
    before = set(resp.json()["pods"])
    # 3. create (the seed's exact body)
    resp = requests.post(f"{base}/pods", headers={**auth, "Content-Type": "application/json"},
                         data='{"name":"my-pod","image":"my-image","gpu_type":"nvidia-t4"}', timeout=30)
    assert resp.status_code == 200 and set(resp.json()) == {"pod_id"}
    pod_id = resp.json()["pod_id"]
    listing = requests.get(f"{base}/pods", headers=auth, timeout=30).json()
    assert set(listing["pods"]) == before | {pod_id}
    item = next(i for i in listing["items"] if i["pod_id"] == pod_id)
    assert item["gpu_type"] == "Tesla T4" and item["owner"] == "admin" and item["status"] == "RUNNING"
    assert set(item) == {"pod_id", "name", "image", "gpu_type", "gpu_count", "status", "owner", "created_at",
                         "cost_per_hr"}
    # 4. stop
    resp = requests.post(f"{base}/pods/stop", headers=auth, json={"pod_id": pod_id}, timeout=30)
    assert (resp.status_code, resp.json()) == (200, {"status": "stopped"})
    assert requests.get(f"{base}/pods/{pod_id}", headers=auth, timeout=30).json()["status"] == "EXITED"
    # 5. delete
    resp = requests.delete(f"{base}/pods", headers=auth, json={"pod_id": pod_id}, timeout=30)
    assert (resp.status_code, resp.json()) == (200, {"status": "deleted"})
    assert pod_id not in requests.get(f"{base}/pods", headers=auth, timeout=30).json()["pods"]
    assert all(p["id"] != pod_id for p in stack.runpod.pods)


def test_stage_prefixed_urls_work_like_the_deployed_api(stack, admin):
    resp = requests.get(f"{stack.url}/dev/pods", headers={"Authorization": f"Bearer {admin.token}"}, timeout=30)
    assert resp.status_code == 200


def test_restful_aliases(admin):
    pod_id = admin.create_pod()
    assert admin.request("GET", f"/pods/{pod_id}").json()["pod_id"] == pod_id
    assert admin.request("POST", f"/pods/{pod_id}/stop").json() == {"status": "stopped"}
    assert admin.request("POST", f"/pods/{pod_id}/stop").json() == {"status": "stopped"}  # idempotent
    assert admin.request("DELETE", f"/pods/{pod_id}").json() == {"status": "deleted"}
    resp = admin.request("DELETE", f"/pods/{pod_id}")
    assert (resp.status_code, resp.json()) == (404, {"detail": "Pod not found"})


def _status(resp: requests.Response) -> tuple[int, str]:
    assert resp.headers["Content-Type"].startswith("application/json")
    return resp.status_code, resp.json()["detail"]


def test_401s_carry_detail(stack):
    url = f"{stack.url}/pods"
    cases = {
        "none": {},
        "garbage": {"Authorization": "Bearer garbage"},
        "basic": {"Authorization": "Basic YWRtaW46aW50ZWdyYXRpb24="},
        "malformed jwt": {"Authorization": "Bearer a.b.c"},
        "expired": {"Authorization": f"Bearer {mint(stack, iat=1700000000, nbf=1700000000, exp=1700000600)}"},
        "wrong key": {"Authorization": "Bearer " + mint(stack).rsplit(".", 1)[0] + ".AAAA"},
    }
    for name, headers in cases.items():
        assert _status(requests.get(url, headers=headers, timeout=30)) == (401, "Unauthorized"), name
    # the token is never taken from the URL (seed note 9)
    token = mint(stack)
    assert _status(requests.get(url, params={"token": token, "access_token": token}, timeout=30))[0] == 401


def test_bad_bodies(admin):
    def post(**kw):
        return admin.request("POST", "/pods", **kw)

    assert _status(post(data="{not json", headers={"Content-Type": "application/json"})) == (
        400, "Request body must be a JSON object")
    assert _status(post(json=["a", "list"]))[0] == 400
    assert _status(post(data=b"\xff\xfe", headers={"Content-Type": "application/json"}))[0] == 400
    resp = post(json={"name": "x", "image": "my-image"})
    assert resp.status_code == 422
    assert resp.json()["errors"] == [{"loc": ["body", "gpu_type"], "msg": "Field required"}]
    resp = post(json={"name": "x", "image": "my-image", "gpu_type": "nvidia-t4", "gpu_typo": 1})
    assert resp.status_code == 422 and resp.json()["errors"][0]["loc"] == ["body", "gpu_typo"]
    resp = post(json={"name": "x", "image": "my-image", "gpu_type": "nvidia-t9"})
    assert resp.status_code == 422 and "did you mean" in resp.json()["detail"]
    assert _status(post(json={"name": "x" * 70000, "image": "i", "gpu_type": "t"})) == (413, "Request body too large")
    assert _status(admin.request("POST", "/pods/stop", json={}))[0] == 422
    assert _status(admin.request("DELETE", "/pods"))[0] == 400


def test_404s(stack, admin):
    for method, path, body in [
        ("GET", "/pods/nosuchpod0000", None),
        ("POST", "/pods/stop", {"pod_id": "pod-123"}),
        ("POST", "/pods/pod-123/stop", None),
        ("DELETE", "/pods", {"pod_id": "pod-123"}),
        ("DELETE", "/pods/pod-123", None),
    ]:
        assert _status(admin.request(method, path, json=body)) == (404, "Pod not found"), (method, path)
    for method, path in [("GET", "/nope"), ("GET", "/pods/a/b/c"), ("PUT", "/pods"), ("GET", "/auth")]:
        assert _status(requests.request(method, stack.url + path, timeout=30)) == (404, "Not found"), path


def test_wrong_password_and_unknown_user_look_the_same(stack):
    a = requests.post(f"{stack.url}/auth", json={"username": "admin", "password": "wrong-password-x"}, timeout=30)
    b = requests.post(f"{stack.url}/auth", json={"username": "nobody-here", "password": "wrong-password-x"},
                      timeout=30)
    assert (a.status_code, a.json()) == (b.status_code, b.json()) == (401, {"detail": "Invalid username or password"})


def test_capacity_error_names_the_gpu_type(stack, admin):
    stack.runpod.set_capacity("NVIDIA GeForce RTX 4090", 0)
    try:
        resp = admin.request("POST", "/pods", json={"name": "x", "image": "my-image", "gpu_type": "rtx-4090"})
    finally:
        stack.runpod.set_capacity("NVIDIA GeForce RTX 4090", None)
    assert resp.status_code == 503 and "NVIDIA GeForce RTX 4090" in resp.json()["detail"]
