"""Roles and ownership through the gateway: a user sees and acts only on its own pods, an
admin on all; another user's pod is a 404 exactly like a missing one."""

from __future__ import annotations

from tests.localstack import Client, login


def test_user_cannot_see_stop_or_delete_the_admins_pod(stack, admin, user):
    pod_id = admin.create_pod(name="admins-pod")
    missing = "nosuchpod00000"
    for method, path, body in [
        ("GET", f"/pods/{pod_id}", None),
        ("POST", "/pods/stop", {"pod_id": pod_id}),
        ("POST", f"/pods/{pod_id}/stop", None),
        ("DELETE", "/pods", {"pod_id": pod_id}),
        ("DELETE", f"/pods/{pod_id}", None),
    ]:
        theirs = user.request(method, path, json=body)
        nobodys = user.request(method, path.replace(pod_id, missing), json=body and {"pod_id": missing})
        assert (theirs.status_code, theirs.json()) == (404, {"detail": "Pod not found"}), (method, path)
        assert (theirs.status_code, theirs.json()) == (nobodys.status_code, nobodys.json())
    assert pod_id not in user.request("GET", "/pods").json()["pods"]
    # and the pod is untouched
    assert admin.request("GET", f"/pods/{pod_id}").json()["status"] == "RUNNING"
    admin.request("DELETE", f"/pods/{pod_id}")


def test_users_see_only_their_own_and_admin_sees_all(admin, user, other_user):
    mine = user.create_pod(name="mine")
    theirs = other_user.create_pod(name="theirs")
    assert user.request("GET", "/pods").json()["pods"] == [mine]
    assert other_user.request("GET", "/pods").json()["pods"] == [theirs]
    items = {i["pod_id"]: i["owner"] for i in admin.request("GET", "/pods").json()["items"]}
    assert items[mine] == user.username and items[theirs] == other_user.username
    # the admin may act on a user's pod
    assert admin.request("POST", "/pods/stop", json={"pod_id": mine}).json() == {"status": "stopped"}
    assert user.request("GET", f"/pods/{mine}").json()["status"] == "EXITED"
    assert user.request("DELETE", f"/pods/{mine}").json() == {"status": "deleted"}
    assert admin.request("DELETE", "/pods", json={"pod_id": theirs}).json() == {"status": "deleted"}


def test_admin_sees_pods_made_outside_the_api(stack, admin, user):
    foreign = stack.runpod  # a pod created directly on the RunPod account
    import requests

    resp = requests.post(f"{foreign.url}/pods", headers={"Authorization": "Bearer " + _runpod_key(stack)},
                         json={"name": "console-pod", "image": "my-image", "gpu": {"id": "Tesla T4"}}, timeout=30)
    assert resp.status_code == 201
    pod_id = resp.json()["id"]
    item = admin.request("GET", f"/pods/{pod_id}").json()
    assert item["owner"] is None and item["name"] == "console-pod"
    assert user.request("GET", f"/pods/{pod_id}").status_code == 404
    assert admin.request("DELETE", f"/pods/{pod_id}").json() == {"status": "deleted"}


def _runpod_key(stack) -> str:
    from tests.localstack import aws_client

    return aws_client(stack, "secretsmanager").get_secret_value(
        SecretId=stack.stack.parameters["RunPodApiKeySecretName"])["SecretString"]


def test_disable_and_password_reset_revoke_tokens_at_once(stack, user):
    from podgate.admin import main

    assert user.request("GET", "/pods").status_code == 200
    with stack.aws_environment():
        main(["--users-table", stack.tables["UsersTable"], "disable", user.username])
    resp = user.request("GET", "/pods")  # the authorizer's cached Allow does not help
    assert (resp.status_code, resp.json()) == (401, {"detail": "Unauthorized"})
    with stack.aws_environment():
        main(["--users-table", stack.tables["UsersTable"], "enable", user.username])
    fresh = Client(stack.url, login(stack, user.username, "a-long-user-password"), user.username)
    assert fresh.request("GET", "/pods").status_code == 200
    assert user.request("GET", "/pods").status_code == 401  # enabling does not revive old tokens
