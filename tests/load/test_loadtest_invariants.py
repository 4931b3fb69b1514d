"""The load test's invariant checks, fed made-up runs: each violation must be caught, so a
green `make loadtest` means something."""

from __future__ import annotations

from bench.loadtest import ClientLog, CreateOutcome, Sample, check_invariants

TAG = "PODGATE_CREATE_TAG"


def pod(pod_id: str, tag: str | None = None) -> dict:
    return {"id": pod_id, "env": {TAG: tag or f"tag-{pod_id}"}}


def record(pod_id: str) -> dict:
    return {"pod_id": pod_id, "owner": "u"}


def ok(status: int = 200, op: str = "list") -> Sample:
    return Sample(op, status, 0.01, detail_ok=True, runpod_words=False)


def created(key: str, pod_id: str | None, status: int = 200, replay: bool = False) -> CreateOutcome:
    return CreateOutcome(key, 0, replay, status, pod_id)


def violations(logs, pods, records) -> dict[int, list[str]]:
    return {i["id"]: i["violations"] for i in check_invariants(logs, pods, records) if i["violations"]}


def test_a_clean_run_has_no_violations():
    # A 503 with a detail, a replay answering the same pod, a pod deleted with a 200
    log = ClientLog(
        samples=[ok(), ok(503, "create")],
        creates=[created("k1", "a"), created("k1", "a", replay=True), created("k2", "b")],
        deleted={"b"},
    )
    assert violations([log], [pod("a")], [record("a")]) == {}


def test_unanswered_requests_and_crashed_clients_are_caught():
    log = ClientLog(samples=[Sample("get", None, 35.0, False, False, "ReadTimeout")], crash="load-client-0 crashed")
    assert violations([log], [], []) == {0: ["1 x get: ReadTimeout", "load-client-0 crashed"]}


def test_a_5xx_without_detail_is_caught_but_a_4xx_is_not_checked():
    log = ClientLog(samples=[Sample("create", 502, 0.1, False, False), Sample("get", 404, 0.1, False, False)])
    assert violations([log], [], []) == {1: ["1 x create answered 502 without a JSON detail"]}


def test_pods_and_records_must_match_one_to_one():
    found = violations([ClientLog()], [pod("a"), pod("b")], [record("b"), record("b"), record("c")])
    assert found == {2: ["pod a has no ownership record", "pod b has 2 ownership records",
                         "record c has no pod on RunPod"]}


def test_one_pod_per_idempotency_key():
    log = ClientLog(creates=[created("k1", "a"), created("k1", "b", replay=True), created("k2", "c"),
                             created("k3", "c"), created("k4", None, 422, replay=True)])
    pods = [pod("a", "t1"), pod("b", "t1"), pod("c")]
    found = violations([log], pods, [record("a"), record("b"), record("c")])
    assert found == {3: ["key k1 answered different pods ['a', 'b']", "2 pods on RunPod carry create tag t1",
                         "pod c was answered for several keys ['k2', 'k3']",
                         "key k4: a replay with the same body answered 422 (1 x)"]}


def test_a_created_pod_must_stay_or_be_deleted_with_a_200():
    log = ClientLog(creates=[created("k1", "a"), created("k2", "b"), created("k3", "c")], deleted={"c"})
    log.failed_deletes["b"] = 2
    found = violations([log], [pod("a"), pod("c")], [record("a"), record("c")])
    assert found == {4: ["pod b lost (pod gone, record gone; 2 DELETE(s) not answered 200)",
                         "pod c answered 200 to DELETE but is still there"]}


def test_runpods_words_in_a_response_are_caught():
    log = ClientLog(samples=[Sample("create", 503, 0.1, True, True)])
    assert violations([log], [], []) == {5: ["1 x create answered 503 with RunPod's own words in the body"]}
