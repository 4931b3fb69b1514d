"""RunPodClient against the RunPod emulator over real HTTP: every method, every error mapping,
the retry policy and what may (not) be logged."""

from __future__ import annotations

import logging
import random
import time

import pytest
from pydantic import ValidationError

from podgate.clients.runpod import NO_RETRY, RETRY_SAFE, RunPodClient
from podgate.errors import (
    ConfigurationError,
    RunPodAuthError,
    RunPodCapacityError,
    RunPodConflict,
    RunPodError,
    RunPodNotFound,
    RunPodRateLimited,
    RunPodTimeout,
    RunPodUnavailable,
)
from podgate.models.runpod import RunPodCreatePod, RunPodPod
from podgate_local.runpod_emulator import NO_INSTANCES, RunPodEmulator

KEY = "test-runpod-key"
RTX_4090 = "NVIDIA GeForce RTX 4090"
SECRET = "hf_s3cr3t-value-never-logged"
IMAGE = "runpod/pytorch:2.4.0"


def make_client(emulator: RunPodEmulator, **kw) -> RunPodClient:
    kw.setdefault("connect_timeout", 1.0)
    kw.setdefault("read_timeout", 2.0)
    return RunPodClient(emulator.url, lambda: KEY, **kw)


@pytest.fixture
def client(runpod_emulator):
    c = make_client(runpod_emulator)
    yield c
    c.close()


def new_pod(gpu: str = RTX_4090, count: int = 1, **extra) -> RunPodCreatePod:
    return RunPodCreatePod(name="trainer", image=IMAGE, gpu={"id": gpu, "count": count}, **extra)


def calls(emulator: RunPodEmulator, method: str, path: str) -> int:
    return emulator.request_log.count((method, "/v2" + path))


# --- the happy path -------------------------------------------------------------------------


def test_a_pod_goes_through_its_whole_life(client, runpod_emulator):
    # When a pod is created
    pod = client.create_pod(new_pod(count=2, env={"HF_TOKEN": SECRET}))
    # Then the client returns RunPod's view of it
    assert len(pod.id) == 14 and pod.status == "RUNNING"
    assert (pod.gpu.id, pod.gpu.count, pod.gpu.displayName) == (RTX_4090, 2, "RTX 4090")
    assert pod.cost > 0 and pod.createdAt and pod.runtime is None
    # And it can be read, listed, stopped, started and terminated
    assert client.get_pod(pod.id).name == "trainer"
    assert [p.id for p in client.list_pods()] == [pod.id]
    stopped = client.stop_pod(pod.id)
    assert stopped.status == "EXITED" and stopped.cost == 0.0 and "start" in stopped.actions
    assert client.start_pod(pod.id).status == "RUNNING"
    assert client.terminate_pod(pod.id) is None
    assert runpod_emulator.pods == []
    with pytest.raises(RunPodNotFound):
        client.get_pod(pod.id)


def test_every_optional_create_field_is_accepted_by_runpods_strict_schema(client, runpod_emulator):
    # Given a create using every field we can send
    req = new_pod(
        cloud="COMMUNITY",
        disk=40,
        mounts={"persistent": {"size": 100}},
        ports=["8888/http", "22/tcp"],
        env={"A": "1"},
        args="python train.py",
        dataCenterIds=["EU-RO-1"],
        startSsh=True,
        startJupyter=False,
        templateId="tpl0000001",
        registry="reg0000001",
        globalNetworking=False,
    )
    # When it is sent, then RunPod (which rejects unknown properties) creates the pod as asked
    pod = client.create_pod(req)
    [raw] = runpod_emulator.pods
    assert raw["id"] == pod.id
    assert raw["cloud"] == "COMMUNITY" and raw["disk"] == 40 and raw["dataCenterId"] == "EU-RO-1"
    assert raw["mounts"] == {"persistent": {"size": 100, "path": "/workspace"}}


def test_the_create_body_is_nested_and_leaves_unset_fields_out():
    payload = new_pod(count=2).to_payload()
    assert payload == {"name": "trainer", "image": IMAGE, "gpu": {"id": RTX_4090, "count": 2}}


def test_our_create_model_refuses_what_runpod_would_refuse():
    with pytest.raises(ValidationError):
        RunPodCreatePod(name="x", image="i", gpu={"id": RTX_4090}, dockerArgs="x")
    with pytest.raises(ValidationError):
        RunPodCreatePod(name="x", image="i", gpu={"id": RTX_4090, "count": 0})


def test_pod_env_is_readable_but_never_dumped_or_repr(client):
    pod = client.create_pod(new_pod(env={"HF_TOKEN": SECRET}))
    # The env is kept (it is how a lost create is found again) ...
    assert pod.env == {"HF_TOKEN": SECRET}
    # ... but neither a dump nor a repr can carry it into a response or a log line
    assert "env" not in pod.model_dump() and SECRET not in pod.model_dump_json()
    assert SECRET not in repr(pod) and SECRET not in repr(new_pod(env={"K": SECRET}))


def test_the_pod_model_tolerates_what_runpod_may_send():
    pod = RunPodPod.model_validate(
        {
            "id": "abc",
            "actions": None,
            "ports": None,
            "gpu": None,
            "cpu": {"id": "cpu3c"},
            "newField": {"x": 1},
            "runtime": None,
            "cost": "0.74",
        }
    )
    assert (pod.actions, pod.ports, pod.gpu, pod.cost) == ([], [], None, 0.74)


def test_gpu_types_are_listed(client):
    gpus = {g.id: g for g in client.list_gpu_types()}
    assert gpus["Tesla T4"].memoryInGb == 16
    assert gpus[RTX_4090].displayName == "RTX 4090" and gpus[RTX_4090].stockStatus == "High"


def test_gpu_types_are_also_read_from_a_bare_list(client, runpod_emulator):
    # Given a catalogue answered as a bare JSON array, as v1 list endpoints did
    runpod_emulator.add_fault("status", status=200, body=[{"id": "NVIDIA A30", "displayName": "A30"}])
    assert [g.id for g in client.list_gpu_types()] == ["NVIDIA A30"]


def test_an_unreadable_entry_is_skipped_not_fatal(client, runpod_emulator, caplog):
    runpod_emulator.add_fault("status", status=200, body={"pods": [{"name": "no id"}, {"id": "abc"}]})
    assert [p.id for p in client.list_pods()] == ["abc"]
    assert "skipped an unreadable entry" in caplog.text


def test_the_api_key_is_read_for_every_call(runpod_emulator):
    # Given a key source that is rotated between calls
    keys = ["stale-key", KEY]
    client = RunPodClient(runpod_emulator.url, lambda: keys[0])
    with pytest.raises(RunPodAuthError):
        client.list_pods()
    keys.pop(0)
    # Then the next call uses the new key
    assert client.list_pods() == []


def test_an_empty_api_key_is_a_configuration_error(runpod_emulator):
    with pytest.raises(ConfigurationError):
        RunPodClient(runpod_emulator.url, lambda: "").list_pods()
    assert runpod_emulator.request_log == []


@pytest.mark.parametrize(
    "pod_id", ["", "ABCDEF", "../catalog/gpus", "a/b", "abc?x=1", "a" * 65, "pod id", "abc%2F", "abc\n"]
)
@pytest.mark.parametrize("method", ["get_pod", "stop_pod", "start_pod", "terminate_pod"])
def test_a_malformed_pod_id_never_reaches_runpod(client, runpod_emulator, method, pod_id):
    with pytest.raises(RunPodNotFound):
        getattr(client, method)(pod_id)
    assert runpod_emulator.request_log == []


# --- error mapping --------------------------------------------------------------------------


def test_a_wrong_key_is_an_auth_error(runpod_emulator):
    client = RunPodClient(runpod_emulator.url, lambda: "wrong-key")
    with pytest.raises(RunPodAuthError) as err:
        client.list_pods()
    # An operator problem: callers see a 502, never a 401 that would blame their own token
    assert err.value.status == 502


def test_a_key_without_access_is_an_auth_error(client, runpod_emulator):
    denied = {"title": "Forbidden", "status": 403, "detail": "access denied"}
    runpod_emulator.add_fault("status", status=403, body=denied)
    with pytest.raises(RunPodAuthError):
        client.list_pods()


def test_an_unknown_pod_is_not_found(client):
    with pytest.raises(RunPodNotFound):
        client.get_pod("nosuchpod00000")
    with pytest.raises(RunPodNotFound):
        client.terminate_pod("nosuchpod00000")


def test_an_action_the_state_forbids_is_a_conflict(client):
    pod = client.create_pod(new_pod())
    client.stop_pod(pod.id)
    with pytest.raises(RunPodConflict):
        client.stop_pod(pod.id)


def test_no_capacity_is_a_capacity_error_naming_the_gpu_type(client, runpod_emulator):
    # Given no free RTX 4090s
    runpod_emulator.set_capacity(RTX_4090, 0)
    # When a pod is created on one
    with pytest.raises(RunPodCapacityError) as err:
        client.create_pod(new_pod())
    # Then the error says which type, in our words, not RunPod's
    assert err.value.gpu_type == RTX_4090 and err.value.status == 503
    assert RTX_4090 in err.value.detail and "refresh" not in err.value.detail


def test_a_wrong_gpu_id_looks_like_no_capacity(client):
    # RunPod's misleading answer; GpuCatalog must catch wrong ids before this point.
    with pytest.raises(RunPodCapacityError):
        client.create_pod(new_pod(gpu="NVIDIA RTX 4090"))


def test_starting_a_pod_whose_host_is_full_is_a_capacity_error(client, runpod_emulator):
    pod = client.create_pod(new_pod())
    client.stop_pod(pod.id)
    runpod_emulator.set_capacity(RTX_4090, 0)
    with pytest.raises(RunPodCapacityError):
        client.start_pod(pod.id)


def test_a_v1_style_capacity_500_is_recognised_by_its_text(client, runpod_emulator):
    runpod_emulator.add_fault("status", status=500, body={"error": NO_INSTANCES}, method="POST")
    with pytest.raises(RunPodCapacityError):
        client.create_pod(new_pod())


def test_rate_limiting_on_create_carries_retry_after_and_is_not_retried(client, runpod_emulator):
    runpod_emulator.add_fault("status", status=429, headers={"Retry-After": "7"}, method="POST")
    with pytest.raises(RunPodRateLimited) as err:
        client.create_pod(new_pod())
    assert err.value.retry_after == 7 and err.value.headers == {"Retry-After": "7"}
    assert calls(runpod_emulator, "POST", "/pods") == 1


def test_without_retry_after_the_exhausted_windows_reset_time_is_used(client, runpod_emulator):
    limits = '"minute";r=0;t=12, "hour";r=7193;t=2701, "day";r=40000;t=80000'
    runpod_emulator.add_fault("status", status=429, headers={"RateLimit": limits}, method="POST")
    with pytest.raises(RunPodRateLimited) as err:
        client.create_pod(new_pod())
    assert err.value.retry_after == 12


def test_a_read_is_retried_after_a_short_retry_after(client, runpod_emulator):
    runpod_emulator.add_fault("status", status=429, headers={"Retry-After": "0"}, path="/v2/pods", times=1)
    assert client.list_pods() == []
    assert calls(runpod_emulator, "GET", "/pods") == 2


def test_a_long_retry_after_is_left_to_the_caller(client, runpod_emulator):
    # Given RunPod asks for 30 s, far more than a request may wait
    runpod_emulator.add_fault("status", status=429, headers={"Retry-After": "30"}, path="/v2/pods")
    started = time.monotonic()
    with pytest.raises(RunPodRateLimited) as err:
        client.list_pods()
    # Then the client does not sleep; the caller gets the wait to pass on
    assert time.monotonic() - started < 1
    assert err.value.retry_after == 30
    assert calls(runpod_emulator, "GET", "/pods") == 1


def test_a_real_exhausted_window_surfaces_as_rate_limited():
    with RunPodEmulator(api_key=KEY, rate_limits={"minute": 1}) as emulator:
        client = make_client(emulator)
        client.list_pods()
        with pytest.raises(RunPodRateLimited) as err:
            client.list_pods()
    assert 1 <= err.value.retry_after <= 60


def test_a_503_read_is_retried(client, runpod_emulator):
    runpod_emulator.add_fault("status", status=503, path="/v2/pods", times=1)
    assert client.list_pods() == []
    assert calls(runpod_emulator, "GET", "/pods") == 2


def test_a_503_read_gives_up_after_two_retries(client, runpod_emulator):
    runpod_emulator.add_fault("status", status=503, path="/v2/pods")
    with pytest.raises(RunPodUnavailable):
        client.list_pods()
    assert calls(runpod_emulator, "GET", "/pods") == 3


def test_a_503_create_is_never_retried(client, runpod_emulator):
    runpod_emulator.add_fault("status", status=503, headers={"Retry-After": "5"}, method="POST", times=1)
    with pytest.raises(RunPodUnavailable) as err:
        client.create_pod(new_pod())
    assert err.value.headers == {"Retry-After": "5"}
    assert calls(runpod_emulator, "POST", "/pods") == 1
    assert runpod_emulator.pods == []


def test_a_failed_create_may_still_have_started_a_pod(client, runpod_emulator):
    # Given RunPod starts the pod and then answers 500 (transformerlab PR #2305)
    runpod_emulator.add_fault("status", status=500, method="POST", apply=True, times=1)
    # When we create, then we see an error, not retried ...
    with pytest.raises(RunPodError):
        client.create_pod(new_pod())
    # ... while a billed pod exists: only the caller can reconcile, so the client never retries
    assert len(runpod_emulator.pods) == 1
    assert calls(runpod_emulator, "POST", "/pods") == 1


@pytest.mark.parametrize("status", [500, 502, 400, 410, 418, 422])
def test_other_failures_are_plain_runpod_errors(client, runpod_emulator, status):
    runpod_emulator.add_fault("status", status=status, method="POST")
    with pytest.raises(RunPodError) as err:
        client.create_pod(new_pod())
    assert type(err.value) is RunPodError and err.value.status == 502
    assert err.value.upstream_status == status  # tells "refused" (4xx) from "outcome unknown" (5xx)


def test_runpods_own_504_is_our_504(client, runpod_emulator):
    # QA defect 10: RunPod's gateway timing out is "RunPod did not answer in time" (API.md: 504)
    runpod_emulator.add_fault("status", status=504, method="POST")
    with pytest.raises(RunPodTimeout) as err:
        client.create_pod(new_pod())
    assert (err.value.status, err.value.detail) == (504, "RunPod API timed out")


@pytest.mark.parametrize(
    "method,path,status,body",
    [
        ("GET", "/v2/pods", 404, None),
        ("GET", "/v2/pods", 409, None),
        ("GET", "/v2/pods/{id}", 400, {"detail": "There are no longer any instances available"}),
        ("DELETE", "/v2/pods/{id}", 500, {"detail": "There are no longer any instances available"}),
        ("GET", "/v2/pods/{id}", 409, None),
        ("POST", "/v2/pods/{id}/action", 400, {"detail": "There are no longer any instances available"}),
    ],
)
def test_statuses_only_mean_what_they_mean_for_that_call(client, runpod_emulator, method, path, status, body):
    # QA defect 8: a 404 on the list is not "Pod not found", a capacity text on a read is not capacity
    pod = client.create_pod(new_pod())
    runpod_emulator.add_fault("status", status=status, method=method, path=path.format(id=pod.id), body=body)
    call = {"GET /v2/pods": client.list_pods, "GET /v2/pods/{id}": lambda: client.get_pod(pod.id),
            "DELETE /v2/pods/{id}": lambda: client.terminate_pod(pod.id),
            "POST /v2/pods/{id}/action": lambda: client.stop_pod(pod.id)}[f"{method} {path}"]
    with pytest.raises(RunPodError) as err:
        call()
    assert type(err.value) is RunPodError and err.value.status == 502


def test_a_huge_retry_after_is_capped(client, runpod_emulator):
    # QA defect 9: RunPod's Retry-After passed on with no upper limit
    runpod_emulator.add_fault("status", status=503, method="GET", headers={"Retry-After": "99999999999999999999"})
    with pytest.raises(RunPodUnavailable) as err:
        client.list_pods()
    assert err.value.headers == {"Retry-After": "3600"}


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_on_reads_are_retried(client, runpod_emulator, status):
    runpod_emulator.add_fault("status", status=status, path="/v2/pods", times=2)
    assert client.list_pods() == []
    assert calls(runpod_emulator, "GET", "/pods") == 3


def test_a_redirect_is_not_followed(client, runpod_emulator):
    runpod_emulator.add_fault("status", status=302, headers={"Location": "http://127.0.0.1:9/v2/pods"})
    with pytest.raises(RunPodError):
        client.list_pods()
    assert len(runpod_emulator.request_log) == 1


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_invalid_json_is_a_runpod_error(client, runpod_emulator, method):
    runpod_emulator.add_fault("malformed", method=method)
    call = client.list_pods if method == "GET" else lambda: client.create_pod(new_pod())
    with pytest.raises(RunPodError) as err:
        call()
    assert type(err.value) is RunPodError


def test_a_success_with_the_wrong_shape_is_a_runpod_error(client, runpod_emulator):
    runpod_emulator.add_fault("status", status=200, body={"unexpected": True}, path="/v2/pods")
    with pytest.raises(RunPodError):
        client.list_pods()


def test_a_reset_create_is_unavailable_and_not_retried(client, runpod_emulator):
    runpod_emulator.add_fault("reset", method="POST", times=1)
    with pytest.raises(RunPodUnavailable):
        client.create_pod(new_pod())
    assert calls(runpod_emulator, "POST", "/pods") == 1


def test_a_reset_read_is_retried(client, runpod_emulator):
    runpod_emulator.add_fault("reset", method="GET", times=1)
    assert client.list_pods() == []
    assert calls(runpod_emulator, "GET", "/pods") == 2


def test_a_refused_connection_is_unavailable():
    with RunPodEmulator(api_key=KEY) as emulator:
        url = emulator.url
    client = RunPodClient(url, lambda: KEY, connect_timeout=0.5)
    with pytest.raises(RunPodUnavailable):
        client.list_pods()


# --- the retry policy, per call -------------------------------------------------------------


class MaxJitter(random.Random):
    """An rng whose uniform(a, b) always draws b, and which records what it was asked."""

    def __init__(self) -> None:
        super().__init__(0)
        self.asked: list[tuple[float, float]] = []

    def uniform(self, a: float, b: float) -> float:
        self.asked.append((a, b))
        return b


class NoJitter(random.Random):
    def uniform(self, a: float, b: float) -> float:
        raise AssertionError("a server-given wait must not be replaced by a backoff")


@pytest.fixture
def sleeps() -> list[float]:
    return []


def recording_client(emulator: RunPodEmulator, sleeps: list[float], **kw) -> RunPodClient:
    """A client that records its waits instead of sleeping them."""
    return make_client(emulator, sleep=sleeps.append, **kw)


ACTION = r"/v2/pods/\w+/action"
RETRYABLE_FAULTS = {
    "503": {"kind": "status", "status": 503},
    "502": {"kind": "status", "status": 502},
    "504": {"kind": "status", "status": 504},
    "429": {"kind": "status", "status": 429, "headers": {"Retry-After": "1"}},
    "reset": {"kind": "reset"},
    "hang": {"kind": "hang", "seconds": 1},
}


def test_each_call_names_its_policy():
    assert RETRY_SAFE.max_retries == 2 and RETRY_SAFE.statuses == {429, 502, 503, 504}
    assert RETRY_SAFE.on_transport_errors
    assert NO_RETRY.max_retries == 0 and not NO_RETRY.on_transport_errors


@pytest.mark.parametrize("fault", RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys())
def test_a_stop_is_retried_and_succeeds(runpod_emulator, sleeps, fault):
    # Given a running pod and one failed answer to the next action
    client = recording_client(runpod_emulator, sleeps, read_timeout=0.3)
    pod = client.create_pod(new_pod())
    runpod_emulator.add_fault(method="POST", path=ACTION, times=1, **fault)
    # When it is stopped, then the stop is sent again (stop is safe to repeat) and succeeds
    assert client.stop_pod(pod.id).status == "EXITED"
    assert calls(runpod_emulator, "POST", f"/pods/{pod.id}/action") == 2
    assert len(sleeps) == 1


def test_a_stop_that_went_through_before_the_reset_is_a_conflict_on_the_retry(runpod_emulator, sleeps):
    # Given RunPod stops the pod and then drops the connection
    client = recording_client(runpod_emulator, sleeps)
    pod = client.create_pod(new_pod())
    runpod_emulator.add_fault("reset", method="POST", path=ACTION, apply=True, times=1)
    # When the stop is retried, then RunPod refuses to stop an EXITED pod: PodService reads
    # the pod on a 409 and reports the stop as done
    with pytest.raises(RunPodConflict):
        client.stop_pod(pod.id)
    assert runpod_emulator.pods[0]["status"] == "EXITED"


def test_a_delete_that_went_through_before_the_reset_is_not_found_on_the_retry(runpod_emulator, sleeps):
    client = recording_client(runpod_emulator, sleeps)
    pod = client.create_pod(new_pod())
    runpod_emulator.add_fault("reset", method="DELETE", apply=True, times=1)
    with pytest.raises(RunPodNotFound):
        client.terminate_pod(pod.id)
    assert runpod_emulator.pods == [] and calls(runpod_emulator, "DELETE", f"/pods/{pod.id}") == 2


@pytest.mark.parametrize("fault", RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys())
def test_a_create_is_never_retried(runpod_emulator, sleeps, fault):
    # Given a create that fails in a way a read would be retried on
    client = recording_client(runpod_emulator, sleeps, read_timeout=0.3)
    runpod_emulator.add_fault(method="POST", path="/v2/pods", times=1, **fault)
    # When it is sent, then it fails once and is not repeated
    with pytest.raises(RunPodError):
        client.create_pod(new_pod())
    assert calls(runpod_emulator, "POST", "/pods") == 1
    assert sleeps == [] and runpod_emulator.pods == []


@pytest.mark.parametrize("fault", RETRYABLE_FAULTS.values(), ids=RETRYABLE_FAULTS.keys())
def test_a_start_is_never_retried(runpod_emulator, sleeps, fault):
    client = recording_client(runpod_emulator, sleeps, read_timeout=0.3)
    pod = client.create_pod(new_pod())
    client.stop_pod(pod.id)
    runpod_emulator.add_fault(method="POST", path=ACTION, times=1, **fault)
    with pytest.raises(RunPodError):
        client.start_pod(pod.id)
    assert calls(runpod_emulator, "POST", f"/pods/{pod.id}/action") == 2  # the stop, the start
    assert sleeps == []


def test_the_backoff_is_exponential_with_full_jitter(runpod_emulator, sleeps):
    # Given RunPod keeps answering 503 without a Retry-After
    rng = MaxJitter()
    client = recording_client(runpod_emulator, sleeps, rng=rng)
    runpod_emulator.add_fault("status", status=503, path="/v2/pods")
    with pytest.raises(RunPodUnavailable):
        client.list_pods()
    # Then each wait is drawn from the whole range [0, base * 2**n], not around its top
    assert rng.asked == [(0.0, 0.2), (0.0, 0.4)]
    assert sleeps == [0.2, 0.4]
    assert calls(runpod_emulator, "GET", "/pods") == 3


def test_the_backoff_is_capped(runpod_emulator, sleeps):
    rng = MaxJitter()
    client = recording_client(runpod_emulator, sleeps, rng=rng, backoff_base=1.5, backoff_cap=2.0)
    runpod_emulator.add_fault("status", status=502, path="/v2/pods")
    with pytest.raises(RunPodError):
        client.list_pods()
    assert rng.asked == [(0.0, 1.5), (0.0, 2.0)] and sleeps == [1.5, 2.0]


def test_a_seeded_rng_gives_the_same_waits_within_bounds(runpod_emulator, sleeps):
    client = recording_client(runpod_emulator, sleeps, rng=random.Random(42))
    runpod_emulator.add_fault("reset", path="/v2/pods")
    with pytest.raises(RunPodUnavailable):
        client.list_pods()
    twin = random.Random(42)
    assert sleeps == [twin.uniform(0, 0.2), twin.uniform(0, 0.4)]
    assert 0 <= sleeps[0] <= 0.2 and 0 <= sleeps[1] <= 0.4


def test_retry_after_is_waited_as_given(runpod_emulator, sleeps):
    client = recording_client(runpod_emulator, sleeps, rng=NoJitter())
    runpod_emulator.add_fault("status", status=503, headers={"Retry-After": "1"}, path="/v2/pods", times=1)
    assert client.list_pods() == []
    assert sleeps == [1.0]


def test_a_429_without_retry_after_waits_for_the_exhausted_window(runpod_emulator, sleeps):
    client = recording_client(runpod_emulator, sleeps, rng=NoJitter())
    limits = '"minute";r=0;t=2, "hour";r=7193;t=2701'
    runpod_emulator.add_fault("status", status=429, headers={"RateLimit": limits}, path="/v2/pods", times=1)
    assert client.list_pods() == []
    assert sleeps == [2.0]


def test_retry_after_wins_over_the_rate_limit_header(runpod_emulator, sleeps):
    client = recording_client(runpod_emulator, sleeps, rng=NoJitter())
    headers = {"Retry-After": "1", "RateLimit": '"minute";r=0;t=2'}
    runpod_emulator.add_fault("status", status=429, headers=headers, path="/v2/pods", times=1)
    client.list_pods()
    assert sleeps == [1.0]


def test_a_stop_waits_no_longer_than_max_retry_wait(runpod_emulator, sleeps):
    # Given RunPod asks for 5 s before the stop may be repeated
    client = recording_client(runpod_emulator, sleeps)
    pod = client.create_pod(new_pod())
    runpod_emulator.add_fault("status", status=429, headers={"Retry-After": "5"}, path=ACTION, times=1)
    # Then the caller gets the wait to pass on, and nothing was slept
    with pytest.raises(RunPodRateLimited) as err:
        client.stop_pod(pod.id)
    assert err.value.retry_after == 5 and sleeps == []


@pytest.mark.parametrize(("budget", "retried"), [(1.6, False), (1.8, True)])
def test_no_retry_starts_unless_the_budget_fits_the_wait_and_an_attempt(runpod_emulator, sleeps, budget, retried):
    # Given `budget` seconds left (1 s of it reserved) and a backoff of 0.2 s
    client = recording_client(runpod_emulator, sleeps, rng=MaxJitter(), time_budget=lambda: budget)
    runpod_emulator.add_fault("status", status=503, path="/v2/pods", times=1)
    # Then a retry happens only if 0.5 s are left for it after the wait
    if retried:
        assert client.list_pods() == []
    else:
        with pytest.raises(RunPodUnavailable):
            client.list_pods()
    assert calls(runpod_emulator, "GET", "/pods") == (2 if retried else 1)
    assert sleeps == ([0.2] if retried else [])


def test_a_retry_after_the_budget_cannot_fit_is_left_to_the_caller(runpod_emulator, sleeps):
    client = recording_client(runpod_emulator, sleeps, time_budget=lambda: 2.2)
    pod = client.create_pod(new_pod())
    runpod_emulator.add_fault("status", status=503, headers={"Retry-After": "1"}, path=ACTION, times=1)
    with pytest.raises(RunPodUnavailable) as err:
        client.stop_pod(pod.id)
    assert err.value.headers == {"Retry-After": "1"} and sleeps == []
    assert calls(runpod_emulator, "POST", f"/pods/{pod.id}/action") == 1


def test_a_tls_failure_is_not_retried(runpod_emulator, sleeps):
    # Given an https URL pointing at the plain-HTTP emulator (every handshake fails)
    url = runpod_emulator.url.replace("http://", "https://")
    client = RunPodClient(url, lambda: KEY, connect_timeout=1.0, read_timeout=1.0, sleep=sleeps.append)
    with pytest.raises(RunPodError):
        client.list_pods()
    assert sleeps == []


# --- timeouts and the Lambda time budget ----------------------------------------------------


def test_a_hanging_create_times_out_once(runpod_emulator):
    client = make_client(runpod_emulator, read_timeout=0.2)
    runpod_emulator.add_fault("hang", method="POST")
    started = time.monotonic()
    with pytest.raises(RunPodTimeout) as err:
        client.create_pod(new_pod())
    assert err.value.status == 504
    assert time.monotonic() - started < 1
    assert calls(runpod_emulator, "POST", "/pods") == 1


def test_a_read_that_hangs_once_is_retried(runpod_emulator):
    client = make_client(runpod_emulator, read_timeout=0.2)
    runpod_emulator.add_fault("hang", path="/v2/pods", times=1)
    assert client.list_pods() == []
    assert calls(runpod_emulator, "GET", "/pods") == 2


def test_a_read_that_keeps_hanging_times_out(runpod_emulator):
    client = make_client(runpod_emulator, read_timeout=0.2)
    runpod_emulator.add_fault("hang", path="/v2/pods")
    with pytest.raises(RunPodTimeout):
        client.list_pods()
    assert calls(runpod_emulator, "GET", "/pods") == 3


def test_the_time_budget_cuts_the_timeout_and_forbids_retries(runpod_emulator):
    # Given 1.7 s left in the invocation and a 10 s read timeout
    deadline = time.monotonic() + 1.7
    client = make_client(runpod_emulator, read_timeout=10.0, time_budget=lambda: deadline - time.monotonic())
    runpod_emulator.add_fault("hang", path="/v2/pods")
    # When RunPod hangs
    with pytest.raises(RunPodTimeout):
        client.list_pods()
    # Then the client gave up about a second before the budget ended, without a retry
    assert 0.5 <= deadline - time.monotonic() <= 1.2
    assert calls(runpod_emulator, "GET", "/pods") == 1


def test_a_spent_budget_makes_no_call_at_all(runpod_emulator):
    client = make_client(runpod_emulator, time_budget=lambda: 1.2)
    with pytest.raises(RunPodTimeout):
        client.list_pods()
    assert runpod_emulator.request_log == []


def test_no_budget_outside_lambda(runpod_emulator):
    client = make_client(runpod_emulator, time_budget=lambda: None)
    assert client.list_pods() == []


# --- what reaches callers and logs ----------------------------------------------------------


def test_runpods_words_never_reach_the_error_detail(client, runpod_emulator):
    runpod_emulator.add_fault("status", status=500, body={"detail": "db password=hunter2 at 10.0.0.7"})
    with pytest.raises(RunPodError) as err:
        client.list_pods()
    assert "hunter2" not in str(err.value) and "hunter2" not in str(err.value.body())
    assert err.value.body() == {"detail": "RunPod API error"}


def test_pod_env_values_and_the_key_never_reach_the_logs(client, runpod_emulator, caplog):
    caplog.set_level(logging.DEBUG)
    # Given a pod whose env holds a secret, and RunPod answers that echo pods back
    pod = client.create_pod(new_pod(env={"HF_TOKEN": SECRET}))
    raw = runpod_emulator.pods[0]
    runpod_emulator.add_fault("status", status=409, body={"detail": "conflict", "pod": raw}, times=1)
    runpod_emulator.add_fault("status", status=500, body={"pods": [raw]}, path="/v2/pods", times=1)
    runpod_emulator.add_fault("malformed", apply=True, path=f"/v2/pods/{pod.id}", times=1)
    runpod_emulator.add_fault("status", status=200, body={"pods": [{**raw, "id": None}]}, times=1)
    # When each of them is met, and the happy paths run too
    with pytest.raises(RunPodConflict):
        client.stop_pod(pod.id)
    with pytest.raises(RunPodError):
        client.list_pods()
    with pytest.raises(RunPodError):
        client.get_pod(pod.id)
    assert client.list_pods() == []
    client.get_pod(pod.id)
    client.terminate_pod(pod.id)
    # Then the failures were logged, with the env redacted and no key anywhere
    assert "answered 409" in caplog.text and "answered 500" in caplog.text and "<redacted>" in caplog.text
    assert "invalid JSON" in caplog.text
    assert SECRET not in caplog.text
    assert KEY not in caplog.text
