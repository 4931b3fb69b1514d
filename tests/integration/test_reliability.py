"""RunPod failures, retried creates and reconciliation, through the local gateway.

Nothing may be billed twice or lost: a create RunPod answered with an error but performed is
found again by its tag; an Idempotency-Key replays; the reconciler adopts what a lost answer
left pending and removes records of pods deleted elsewhere."""

from __future__ import annotations

import concurrent.futures
import json
import uuid

import pytest

from tests.localstack import aws_client

SCHEDULED = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
BODY = {"name": "rel", "image": "my-image", "gpu_type": "nvidia-t4"}


@pytest.fixture(autouse=True)
def clean_faults(stack):
    stack.runpod.clear_faults()
    yield
    stack.runpod.clear_faults()


def pods_with_tag_of(stack, pod_id: str) -> list[dict]:
    tag = next(p for p in stack.runpod.pods if p["id"] == pod_id)["env"]["PODGATE_CREATE_TAG"]
    return [p for p in stack.runpod.pods if p["env"].get("PODGATE_CREATE_TAG") == tag]


def records(stack) -> dict[str, dict]:
    items = aws_client(stack, "dynamodb").scan(TableName=stack.tables["PodsTable"])["Items"]
    return {i["pod_id"]["S"]: i for i in items}


def test_500_on_a_create_that_started_the_pod_is_found_not_repeated(stack, user):
    stack.runpod.add_fault("status", method="POST", path="/v2/pods", status=500, times=1, apply=True)
    resp = user.request("POST", "/pods", json=BODY)
    assert resp.status_code == 200, resp.text
    pod_id = resp.json()["pod_id"]
    assert len(pods_with_tag_of(stack, pod_id)) == 1  # one pod, not two
    assert records(stack)[pod_id]["owner"]["S"] == user.username
    assert user.request("DELETE", f"/pods/{pod_id}").status_code == 200


def test_500_that_started_nothing_is_retried_once(stack, user):
    stack.runpod.add_fault("status", method="POST", path="/v2/pods", status=500, times=1)
    resp = user.request("POST", "/pods", json=BODY)
    assert resp.status_code == 200
    assert user.request("DELETE", f"/pods/{resp.json()['pod_id']}").status_code == 200


def test_capacity_is_503_with_the_gpu_type_and_leaves_nothing(stack, user):
    before = set(records(stack))
    stack.runpod.add_fault("capacity", method="POST", path="/v2/pods", times=1)
    resp = user.request("POST", "/pods", json=BODY)
    assert resp.status_code == 503 and "Tesla T4" in resp.json()["detail"]
    assert set(records(stack)) == before  # the pending record was removed


@pytest.mark.parametrize(
    "fault,status,detail",
    [
        ({"kind": "status", "status": 429, "headers": {"Retry-After": "7"}}, 503, None),
        ({"kind": "status", "status": 503}, 503, "RunPod API unavailable"),
        ({"kind": "status", "status": 418, "body": {"secret": "raw-runpod-body"}}, 502, "RunPod API error"),
        ({"kind": "malformed"}, 502, "RunPod API error"),
    ],
)
def test_runpod_failures_on_reads_map_to_clear_answers(stack, admin, fault, status, detail):
    stack.runpod.add_fault(method="GET", path="/v2/pods", **fault)  # every retry fails too
    resp = admin.request("GET", "/pods")
    assert resp.status_code == status and "detail" in resp.json()
    assert "raw-runpod-body" not in resp.text
    if detail:
        assert resp.json()["detail"] == detail
    if fault.get("status") == 429:
        assert resp.headers["Retry-After"] == "7"


def test_a_transient_503_on_a_read_is_retried_transparently(stack, admin):
    stack.runpod.add_fault("status", method="GET", path="/v2/pods", status=503, times=1)
    assert admin.request("GET", "/pods").status_code == 200


def test_slow_runpod_gives_504_well_before_api_gateways_limit(stack, admin):
    import time

    stack.runpod.add_fault("hang", method="GET", path="/v2/pods", seconds=30)
    started = time.monotonic()
    resp = admin.request("GET", "/pods")
    elapsed = time.monotonic() - started
    assert (resp.status_code, resp.json()) == (504, {"detail": "RunPod API timed out"})
    assert elapsed < 16  # the function's 15 s timeout, far below API Gateway's 29 s


def test_idempotency_key_replays_and_rejects_a_different_body(stack, user):
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = user.request("POST", "/pods", json=BODY, headers=key)
    again = user.request("POST", "/pods", json=BODY, headers=key)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json()
    assert len(pods_with_tag_of(stack, first.json()["pod_id"])) == 1
    other = user.request("POST", "/pods", json={**BODY, "name": "different"}, headers=key)
    assert other.status_code == 422 and other.json()["errors"][0]["loc"] == ["header", "Idempotency-Key"]
    bad = user.request("POST", "/pods", json=BODY, headers={"Idempotency-Key": "has space"})
    assert bad.status_code == 422
    user.request("DELETE", f"/pods/{first.json()['pod_id']}")


def test_the_same_key_is_scoped_per_user(user, other_user):
    key = {"Idempotency-Key": "shared-key-123"}
    a = user.request("POST", "/pods", json=BODY, headers=key).json()["pod_id"]
    b = other_user.request("POST", "/pods", json=BODY, headers=key).json()["pod_id"]
    assert a != b
    user.request("DELETE", f"/pods/{a}")
    other_user.request("DELETE", f"/pods/{b}")


def test_concurrent_requests_with_one_key_start_one_pod(stack, user):
    stack.runpod.add_fault("latency", method="POST", path="/v2/pods", seconds=1.0, times=1)
    key = {"Idempotency-Key": str(uuid.uuid4())}
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: user.request("POST", "/pods", json=BODY, headers=key), range(4)))
    codes = sorted(r.status_code for r in answers)
    assert codes.count(200) >= 1 and set(codes) <= {200, 409}
    for r in answers:
        if r.status_code == 409:
            assert r.headers["Retry-After"] == "2" and "in progress" in r.json()["detail"]
    pod_ids = {r.json()["pod_id"] for r in answers if r.status_code == 200}
    assert len(pod_ids) == 1
    assert len(pods_with_tag_of(stack, pod_ids.pop())) == 1


def test_a_lost_answer_retried_with_the_same_key_finds_the_first_pod(stack, user):
    # RunPod creates the pod but the answer never arrives (read timeout); no second pod on retry
    stack.runpod.add_fault("hang", method="POST", path="/v2/pods", seconds=30, times=1, apply=True)
    stack.runpod.add_fault("status", method="GET", path="/v2/pods", status=503)  # lookup fails too
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = user.request("POST", "/pods", json=BODY, headers=key)
    assert first.status_code in (503, 504)
    stack.runpod.clear_faults()
    retry = user.request("POST", "/pods", json=BODY, headers=key)
    assert retry.status_code == 200
    assert len(pods_with_tag_of(stack, retry.json()["pod_id"])) == 1
    user.request("DELETE", f"/pods/{retry.json()['pod_id']}")


def test_reconciler_adopts_pending_and_removes_stale_records(stack, admin, user):
    # A create whose answer was lost (no key): the pod exists with only a pending record
    stack.runpod.add_fault("hang", method="POST", path="/v2/pods", seconds=30, times=1, apply=True)
    stack.runpod.add_fault("status", method="GET", path="/v2/pods", status=503)
    assert user.request("POST", "/pods", json=BODY).status_code in (503, 504)
    stack.runpod.clear_faults()
    orphan = [p for p in stack.runpod.pods if p["id"] not in records(stack)]
    assert len(orphan) == 1
    # ...and the user sees it already, through its pending record
    assert orphan[0]["id"] in user.request("GET", "/pods").json()["pods"]
    # A pod deleted on RunPod directly leaves a stale record
    gone = admin.create_pod(name="deleted-elsewhere")
    import requests

    key = aws_client(stack, "secretsmanager").get_secret_value(
        SecretId=stack.stack.parameters["RunPodApiKeySecretName"])["SecretString"]
    assert requests.delete(f"{stack.runpod.url}/pods/{gone}", headers={"Authorization": f"Bearer {key}"},
                           timeout=10).status_code == 204
    result = stack.invoke("ReconcileFunction", SCHEDULED)
    assert result.error is None, result.payload
    report = result.payload
    assert orphan[0]["id"] in report["adopted"] and gone in report["stale_records_removed"]
    assert records(stack)[orphan[0]["id"]]["owner"]["S"] == user.username
    assert not any(k.startswith("pending#") for k in records(stack))
    assert user.request("DELETE", f"/pods/{orphan[0]['id']}").status_code == 200
    # a second run finds nothing to do
    again = stack.invoke("ReconcileFunction", SCHEDULED).payload
    assert again["adopted"] == again["stale_records_removed"] == again["stale_pending_removed"] == []


def test_deep_health(stack):
    import requests

    plain = requests.get(f"{stack.url}/health", timeout=10)
    assert plain.json() == {"status": "ok", "source": "runpod_api"}
    deep = requests.get(f"{stack.url}/health", params={"deep": "true"}, timeout=10)
    body = deep.json()
    assert deep.status_code == 200 and body["status"] == "ok" and body["source"] == "runpod_api"
    assert set(body["checks"]) == {"runpod", "users_table", "pods_table"}
    assert all(c["ok"] for c in body["checks"].values())
    assert json.dumps(body).count("latency_ms") == 3


def test_a_404_on_delete_for_a_pod_runpod_still_has_keeps_the_record(stack, user):
    # QA defect 4: the API said "deleted" while the pod kept running and lost its owner
    pod_id = user.create_pod()
    stack.runpod.add_fault("status", method="DELETE", path=f"/v2/pods/{pod_id}", status=404, times=1)
    resp = user.request("DELETE", f"/pods/{pod_id}")
    assert (resp.status_code, resp.json()) == (502, {"detail": "RunPod API error"})
    assert records(stack)[pod_id]["owner"]["S"] == user.username
    assert user.request("DELETE", f"/pods/{pod_id}").json() == {"status": "deleted"}


def test_env_values_echoed_by_a_runpod_error_never_reach_the_logs(stack, user):
    # QA defect 7: RunPod's error body repeated an env value outside an `env` key
    secret = "qa-env-secret-value-67890"
    stack.runpod.add_fault("status", method="POST", path="/v2/pods", status=418, times=2,
                           body={"detail": "boom", "echo": secret})
    stack.clear_logs()
    resp = user.request("POST", "/pods", json={**BODY, "env": {"HF_TOKEN": secret}})
    assert resp.status_code == 502
    logs = "\n".join(stack.logs)
    assert "boom" in logs or "418" in logs  # the failure was logged...
    assert secret not in logs  # ...without the value
