"""RunPodClient against the RunPod emulator over real HTTP: every method, every error mapping,
the retry policy and what may (not) be logged."""

from __future__ import annotations

import logging
import time

import pytest
from pydantic import ValidationError

from podgate.clients.runpod import RunPodClient
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


@pytest.mark.parametrize("status", [500, 502, 504, 400, 410, 418, 422])
def test_other_failures_are_plain_runpod_errors(client, runpod_emulator, status):
    runpod_emulator.add_fault("status", status=status, method="POST")
    with pytest.raises(RunPodError) as err:
        client.create_pod(new_pod())
    assert type(err.value) is RunPodError and err.value.status == 502


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
