"""OWASP API1 (broken object-level authorization): two users, every pod operation, both ways.
A user's request on another's pod must be exactly the answer for a pod that does not exist."""

from __future__ import annotations

ATTEMPTS: list[str] = []
SUCCESSES: list[str] = []


def operations(pod_id: str) -> list[tuple[str, str, dict | None]]:
    return [
        ("GET", f"/pods/{pod_id}", None),
        ("POST", "/pods/stop", {"pod_id": pod_id}),
        ("POST", f"/pods/{pod_id}/stop", None),
        ("DELETE", "/pods", {"pod_id": pod_id}),
        ("DELETE", f"/pods/{pod_id}", None),
    ]


def test_no_cross_user_reads_or_writes(stack, admin, user, other_user):
    pods = {who.username: who.create_pod(name=f"{who.username}-pod") for who in (admin, user, other_user)}
    people = (admin, user, other_user)
    for actor in (user, other_user):
        listed = set(actor.request("GET", "/pods").json()["pods"])
        for owner in people:
            if owner is actor:
                continue
            pod_id = pods[owner.username]
            ATTEMPTS.append(f"{actor.username} lists {owner.username}'s pod")
            if pod_id in listed:
                SUCCESSES.append(ATTEMPTS[-1])
            for method, path, body in operations(pod_id):
                ATTEMPTS.append(f"{actor.username} {method} {path} on {owner.username}'s pod")
                resp = actor.request(method, path, json=body)
                if (resp.status_code, resp.json()) != (404, {"detail": "Pod not found"}):
                    SUCCESSES.append(f"{ATTEMPTS[-1]}: {resp.status_code}")
    # nothing was stopped or deleted behind the owners' backs
    for owner in people:
        item = admin.request("GET", f"/pods/{pods[owner.username]}").json()
        assert item["status"] == "RUNNING" and item["owner"] == owner.username
    print(f"\ncross-user attempts: {len(ATTEMPTS)}, successes: {len(SUCCESSES)}")
    assert SUCCESSES == []
    for pod_id in pods.values():
        assert admin.request("DELETE", f"/pods/{pod_id}").status_code == 200


def test_pod_id_tricks_do_not_reach_another_users_pod(admin, user):
    pod_id = admin.create_pod(name="target")
    for variant in (pod_id.upper(), f"{pod_id}%2F..", f"..%2F{pod_id}", f"{pod_id}%00", f" {pod_id}",
                    f"{pod_id}/", pod_id + "x" * 80, "%2e%2e", "p\u00f6d"):
        for method, path, body in [("GET", f"/pods/{variant}", None), ("DELETE", f"/pods/{variant}", None),
                                   ("POST", "/pods/stop", {"pod_id": variant})]:
            resp = user.request(method, path, json=body)
            assert resp.status_code in (404, 422), (variant, method, resp.status_code, resp.text)
    assert admin.request("GET", f"/pods/{pod_id}").json()["status"] == "RUNNING"
    admin.request("DELETE", f"/pods/{pod_id}")
