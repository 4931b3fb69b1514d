"""The RunPod REST v2 emulator, spoken to over HTTP exactly as a client would."""

from __future__ import annotations

import http.client
import json
import re
import threading
import time
from datetime import datetime

import pytest
import requests
from pydantic import ValidationError

from podgate_local.runpod_emulator import (
    MAX_BODY_BYTES,
    NO_INSTANCES,
    NOT_ENOUGH_FREE_GPUS,
    Fault,
    RunPodEmulator,
    default_gpu_types,
)

KEY = "test-runpod-key"
RTX_4090 = "NVIDIA GeForce RTX 4090"
POD = {"name": "trainer", "image": "runpod/pytorch:2.4.0", "gpu": {"id": RTX_4090}}


class Api:
    """requests against one emulator, with the bearer key unless told otherwise."""

    def __init__(self, emulator: RunPodEmulator) -> None:
        self.base_url, self.control_url = emulator.url, emulator.control_url
        self.session = requests.Session()

    def __call__(self, method: str, path: str, *, key: str | None = KEY, **kw) -> requests.Response:
        headers = kw.pop("headers", {})
        if key is not None:
            headers["Authorization"] = f"Bearer {key}"
        kw.setdefault("timeout", 5)
        return self.session.request(method, self.base_url + path, headers=headers, **kw)

    def control(self, method: str, path: str, **kw) -> requests.Response:
        return self.session.request(method, self.control_url + path, timeout=5, **kw)

    def create(self, **overrides) -> dict:
        resp = self("POST", "/pods", json={**POD, **overrides})
        assert resp.status_code == 201, resp.text
        return resp.json()

    def action(self, pod_id: str, action: str) -> requests.Response:
        return self("POST", f"/pods/{pod_id}/action", json={"action": action})


@pytest.fixture
def api(runpod_emulator):
    client = Api(runpod_emulator)
    yield client
    client.session.close()


def assert_problem(resp: requests.Response, status: int, detail: str | None = None) -> dict:
    assert resp.status_code == status, resp.text
    assert resp.headers["Content-Type"] == "application/problem+json"
    problem = resp.json()
    assert problem["status"] == status
    assert problem["title"]
    if detail is not None:
        assert problem["detail"] == detail
    return problem


# --- authentication and rate limits ---------------------------------------------------------


@pytest.mark.parametrize("authorization", [None, "", "Basic dGVzdA==", "Bearer", "Bearer   "])
def test_requests_without_a_bearer_token_are_refused(api, authorization):
    # Given a request whose Authorization header carries no bearer token
    headers = {} if authorization is None else {"Authorization": authorization}
    # When it asks for the pods
    resp = api("GET", "/pods", key=None, headers=headers)
    # Then it is a 401 problem naming the missing token, without rate-limit headers
    assert_problem(resp, 401, "missing bearer token")
    assert "RateLimit" not in resp.headers


def test_a_wrong_key_is_refused(api):
    resp = api("GET", "/pods", key="not-the-key")
    assert_problem(resp, 401, "invalid api key")


def test_control_endpoints_need_no_key(api):
    resp = api.control("GET", "/state")
    assert resp.status_code == 200
    assert set(resp.json()) >= {"pods", "capacity", "faults", "requests"}


def test_authenticated_answers_carry_rate_limit_headers(api):
    # Given two authenticated requests, a success and a 404
    first = api("GET", "/pods")
    second = api("GET", "/pods/doesnotexist12")
    # Then both carry the policy and the remaining quota, which went down by one
    assert first.status_code == 200 and second.status_code == 404
    for resp in (first, second):
        assert '"minute";q=' in resp.headers["RateLimit-Policy"]
        assert ";w=3600" in resp.headers["RateLimit-Policy"]
    remaining = [int(re.search(r'"minute";r=(\d+)', r.headers["RateLimit"])[1]) for r in (first, second)]
    assert remaining[0] - remaining[1] == 1


def test_an_exhausted_window_answers_429_until_it_resets():
    # Given an emulator that allows two requests per minute
    with RunPodEmulator(api_key=KEY, rate_limits={"minute": 2, "hour": 100}) as emulator:
        api = Api(emulator)
        # When a third request comes within the minute
        statuses = [api("GET", "/pods").status_code for _ in range(3)]
        refused = api("GET", "/pods")
    # Then it is refused with Retry-After and the problem RunPod documents
    assert statuses == [200, 200, 429]
    problem = assert_problem(refused, 429, "rate limit exceeded for the minute window")
    assert problem["title"] == "Too Many Requests"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert '"minute";r=0;' in refused.headers["RateLimit"]


# --- pods -----------------------------------------------------------------------------------


def test_a_created_pod_reads_running_before_its_container_is_up(api):
    # When a pod is created
    resp = api("POST", "/pods", json={**POD, "env": {"HF_TOKEN": "hf_x"}, "ports": ["22/tcp"]})
    # Then it is 201 and RUNNING at once, but without runtime, address or port mappings yet
    assert resp.status_code == 201
    pod = resp.json()
    assert re.fullmatch(r"[a-z0-9]{14}", pod["id"])
    assert pod["status"] == "RUNNING"
    assert pod["actions"] == ["stop", "restart", "terminate"]
    assert pod["runtime"] is None and pod["publicIp"] is None and pod["portMappings"] is None
    assert pod["ssh"]["direct"] is None
    assert pod["gpu"] == {"id": RTX_4090, "count": 1, "displayName": "RTX 4090"}
    assert pod["env"] == {"HF_TOKEN": "hf_x"}
    assert pod["cloud"] == "SECURE"
    assert pod["cost"] > 0
    for stamp in (pod["createdAt"], pod["startedAt"]):
        assert stamp.endswith("Z")
        datetime.fromisoformat(stamp)


def test_runtime_appears_after_the_runtime_delay_and_restart_resets_it():
    with RunPodEmulator(api_key=KEY, runtime_delay=0.05) as emulator:
        api = Api(emulator)
        # Given a pod exposing SSH
        pod_id = api.create(ports=["22/tcp", "8888/http"])["id"]
        # When the runtime delay has passed
        time.sleep(0.1)
        pod = api("GET", f"/pods/{pod_id}").json()
        # Then the pod has a runtime, a public address and a mapping for its TCP port only
        assert pod["runtime"]["ports"][0]["privatePort"] == 22
        assert pod["publicIp"].startswith("203.0.113.")
        assert set(pod["portMappings"]) == {"22"}
        assert pod["ssh"]["direct"] == f"root@{pod['publicIp']} -p {pod['portMappings']['22']}"
        # And a restart makes it wait for a fresh container again
        restarted = api.action(pod_id, "restart").json()
        assert restarted["status"] == "RUNNING" and restarted["runtime"] is None


def test_pods_are_listed_read_and_deleted(api, runpod_emulator):
    # Given two pods
    first, second = api.create(name="a"), api.create(name="b")
    # Then the list shows both, wrapped in {"pods": [...]}, and each can be read
    listed = api("GET", "/pods").json()
    assert [p["id"] for p in listed["pods"]] == [first["id"], second["id"]]
    assert api("GET", f"/pods/{first['id']}").json()["name"] == "a"
    # When one is deleted
    deleted = api("DELETE", f"/pods/{first['id']}")
    # Then it is a 204 without a body, and the pod is gone for good
    assert deleted.status_code == 204 and deleted.content == b""
    assert_problem(api("GET", f"/pods/{first['id']}"), 404)
    assert_problem(api("DELETE", f"/pods/{first['id']}"), 404)
    assert [p["id"] for p in runpod_emulator.pods] == [second["id"]]


def test_unknown_pods_and_paths_are_404(api):
    assert_problem(api("GET", "/pods/nosuchpod00000"), 404, "pod not found")
    assert_problem(api.action("nosuchpod00000", "stop"), 404)
    assert_problem(api("GET", "/volumes"), 404)
    assert_problem(api("GET", "/pods/"), 404)


@pytest.mark.parametrize(
    "method,path,allow",
    [
        ("PUT", "/pods", "GET, POST"),
        ("POST", "/pods/abc", "GET, DELETE"),
        ("GET", "/pods/abc/action", "POST"),
    ],
)
def test_a_wrong_method_is_405_with_allow(api, method, path, allow):
    resp = api(method, path)
    assert_problem(resp, 405)
    assert resp.headers["Allow"] == allow


@pytest.mark.parametrize(
    "change,error",
    [
        ({"dockerArgs": "sleep infinity"}, "$.dockerArgs: property is not allowed"),
        ({"gpu": {"id": RTX_4090, "gpuTypeId": "x"}}, "$.gpu.gpuTypeId: property is not allowed"),
        ({"name": None}, "$.name: "),
        ({"gpu": {"id": RTX_4090, "count": 0}}, "$.gpu.count: "),
        ({"disk": "20"}, "$.disk: "),
        ({"ports": ["8888"]}, "$.ports[0]: "),
        ({"cloud": "ALL"}, "$.cloud: value must be one of 'SECURE' or 'COMMUNITY'"),
        ({"env": {"K": 1}}, "$.env.K: "),
        ({"startSsh": "true"}, "$.startSsh: "),
        ({"mounts": {"persistent": {"size": 20, "path": "/w"}, "network": []}}, "$.mounts: exactly one of"),
    ],
)
def test_create_validates_the_body_strictly(api, runpod_emulator, change, error):
    # Given a create body with one thing wrong
    body = {k: v for k, v in {**POD, **change}.items() if v is not None}
    # When it is posted
    resp = api("POST", "/pods", json=body)
    # Then RunPod's 422 names the offending property, and nothing was created
    problem = assert_problem(resp, 422)
    assert any(e.startswith(error) for e in problem["errors"]), problem["errors"]
    assert runpod_emulator.pods == []


def test_a_missing_name_is_named(api):
    problem = assert_problem(api("POST", "/pods", json={"image": "x", "gpu": {"id": RTX_4090}}), 422)
    assert problem["errors"] == ["$.name: property is required"]


@pytest.mark.parametrize(
    "body,error",
    [
        ({"name": "x", "image": "i"}, "$: exactly one of gpu or cpu is required"),
        ({"name": "x", "gpu": {"id": RTX_4090}}, "$: image is required unless templateId is given"),
    ],
)
def test_create_needs_one_compute_kind_and_an_image_or_template(api, body, error):
    assert assert_problem(api("POST", "/pods", json=body), 422)["errors"] == [error]


def test_every_documented_create_property_is_accepted(api):
    # Given a body using every property section 3 lists for a GPU pod
    body = {
        **POD,
        "cloud": "COMMUNITY",
        "gpu": {"id": RTX_4090, "count": 2, "allowedCudaVersions": ["12.8"]},
        "disk": 40,
        "mounts": {"persistent": {"size": 100, "path": "/workspace"}},
        "ports": ["8888/http", "22/tcp"],
        "env": {"A": "1"},
        "args": "python train.py",
        "registry": "reg0000001",
        "dataCenterIds": ["EU-RO-1"],
        "globalNetworking": True,
        "startSsh": False,
        "startJupyter": True,
        "templateId": "tpl0000001",
    }
    # When it is posted, then the pod echoes it
    pod = api.create(**body)
    assert pod["gpu"]["count"] == 2 and pod["cloud"] == "COMMUNITY" and pod["disk"] == 40
    assert pod["mounts"] == {"persistent": {"size": 100, "path": "/workspace"}}
    assert pod["dataCenterId"] == "EU-RO-1"
    assert pod["template"] == {"id": "tpl0000001"}
    assert pod["globalNetworking"] == {"enabled": True}
    assert pod["ssh"]["proxy"] is None


def test_a_cpu_pod_has_no_gpu(api):
    resp = api("POST", "/pods", json={"name": "c", "image": "i", "cpu": {"id": "cpu3c", "vcpuCount": 2}})
    pod = resp.json()
    assert resp.status_code == 201
    assert "gpu" not in pod and pod["cpu"] == {"id": "cpu3c", "vcpuCount": 2}


def test_a_body_that_is_not_json_is_400(api):
    resp = api("POST", "/pods", data=b"{not json", headers={"Content-Type": "application/json"})
    assert_problem(resp, 400, "request body must be valid JSON")


def test_an_unknown_gpu_id_gets_the_capacity_problem(api, runpod_emulator):
    # Given the id runpodctl once sent by mistake (it lacks "GeForce")
    resp = api("POST", "/pods", json={**POD, "gpu": {"id": "NVIDIA RTX 4090"}})
    # Then RunPod's answer is the misleading capacity problem, not "unknown GPU"
    assert_problem(resp, 400, NO_INSTANCES)
    assert runpod_emulator.pods == []


def test_capacity_is_taken_by_create_and_start_and_given_back_by_stop_and_terminate(api, runpod_emulator):
    # Given two free RTX 4090s
    runpod_emulator.set_capacity(RTX_4090, 2)
    # When a pod takes both, another create finds no instances
    big = api.create(gpu={"id": RTX_4090, "count": 2})
    assert runpod_emulator.capacity[RTX_4090] == 0
    assert_problem(api("POST", "/pods", json=POD), 400, NO_INSTANCES)
    # When the big pod stops, its GPUs are free again and it costs nothing
    stopped = api.action(big["id"], "stop").json()
    assert stopped["status"] == "EXITED" and stopped["cost"] == 0.0
    assert runpod_emulator.capacity[RTX_4090] == 2
    # When a small pod takes one, the big pod cannot start on its host any more
    small = api.create()
    assert_problem(api.action(big["id"], "start"), 400, NOT_ENOUGH_FREE_GPUS)
    assert api("GET", f"/pods/{big['id']}").json()["status"] == "EXITED"
    # When the small pod is terminated, the big one starts again
    assert api.action(small["id"], "terminate").status_code == 204
    assert_problem(api("GET", f"/pods/{small['id']}"), 404)
    assert api.action(big["id"], "start").json()["status"] == "RUNNING"
    assert runpod_emulator.capacity[RTX_4090] == 0
    # And deleting it frees both
    api("DELETE", f"/pods/{big['id']}")
    assert runpod_emulator.capacity[RTX_4090] == 2


def test_capacity_can_be_set_over_http(api):
    resp = api.control("PUT", "/capacity", json={RTX_4090: 0, "Tesla T4": None})
    assert resp.status_code == 200 and resp.json()["capacity"][RTX_4090] == 0
    assert_problem(api("POST", "/pods", json=POD), 400, NO_INSTANCES)
    assert_problem(api.control("PUT", "/capacity", json={"NVIDIA Imaginary": 1}), 422)
    assert_problem(api.control("PUT", "/capacity", json={RTX_4090: -1}), 422)


_STATES = ("PROVISIONING", "STARTING", "RUNNING", "EXITED", "ERROR")
_ALLOWED = {
    "PROVISIONING": {"stop", "terminate"},
    "STARTING": {"stop", "terminate"},
    "RUNNING": {"stop", "restart", "terminate"},
    "EXITED": {"start", "terminate"},
    "ERROR": {"start", "terminate"},
}
_AFTER = {"start": "RUNNING", "stop": "EXITED", "restart": "RUNNING"}


@pytest.mark.parametrize("status", _STATES)
@pytest.mark.parametrize("action", ["start", "stop", "restart", "terminate"])
def test_actions_follow_the_v2_state_machine(api, runpod_emulator, status, action):
    # Given a pod in `status`
    pod_id = api.create()["id"]
    listed = runpod_emulator.set_pod_status(pod_id, status)
    assert set(listed["actions"]) == _ALLOWED[status]
    # When `action` is requested
    resp = api.action(pod_id, action)
    # Then it is done when the state allows it, and a 409 problem otherwise
    if action not in _ALLOWED[status]:
        assert_problem(resp, 409, f"cannot {action} a pod whose status is {status}")
        assert api("GET", f"/pods/{pod_id}").json()["status"] == status
    elif action == "terminate":
        assert resp.status_code == 204
        assert_problem(api("GET", f"/pods/{pod_id}"), 404)
    else:
        assert resp.status_code == 200 and resp.json()["status"] == _AFTER[action]


def test_an_unknown_action_is_422(api):
    pod_id = api.create()["id"]
    problem = assert_problem(api.action(pod_id, "reset"), 422)
    assert problem["errors"] == ["$.action: value must be one of 'start', 'stop', 'restart' or 'terminate'"]


def test_pod_status_can_be_forced_over_http(api):
    pod_id = api.create()["id"]
    resp = api.control("PATCH", f"/pods/{pod_id}", json={"status": "ERROR"})
    assert resp.status_code == 200 and resp.json()["actions"] == ["start", "terminate"]
    assert_problem(api.control("PATCH", "/pods/nosuchpod00000", json={"status": "ERROR"}), 404)
    assert_problem(api.control("PATCH", f"/pods/{pod_id}", json={"status": "TERMINATED"}), 422)


# --- catalogue ------------------------------------------------------------------------------


def test_the_catalogue_is_the_reference_table_plus_tesla_t4(api, runpod_emulator):
    # Given no capacity left for T4s
    runpod_emulator.set_capacity("Tesla T4", 0)
    # When the catalogue is read
    gpus = api("GET", "/catalog/gpus").json()["gpus"]
    by_id = {g["id"]: g for g in gpus}
    # Then it has the 45 types of the docs table plus Tesla T4, in the documented shape
    assert len(gpus) == 46 == len(default_gpu_types())
    assert by_id["Tesla T4"]["memoryInGb"] == 16
    assert by_id[RTX_4090]["displayName"] == "RTX 4090"
    expected_keys = {"id", "displayName", "memoryInGb", "manufacturer", "secureCloud", "communityCloud",
                     "securePrice", "communityPrice", "stockStatus"}
    assert all(set(g) == expected_keys for g in gpus)
    # And stock follows capacity
    assert by_id["Tesla T4"]["stockStatus"] is None
    assert by_id[RTX_4090]["stockStatus"] == "High"


def test_a_custom_catalogue_replaces_the_default():
    with RunPodEmulator(api_key=KEY, gpu_types=[{"id": "NVIDIA A30", "displayName": "A30"}]) as emulator:
        gpus = Api(emulator)("GET", "/catalog/gpus").json()["gpus"]
    assert [g["id"] for g in gpus] == ["NVIDIA A30"]


# --- HTTP behaviour -------------------------------------------------------------------------


def test_one_connection_carries_many_requests_even_after_errors(runpod_emulator):
    # Given a raw HTTP/1.1 connection
    conn = http.client.HTTPConnection("127.0.0.1", runpod_emulator.port, timeout=5)
    auth = {"Authorization": f"Bearer {KEY}", "Content-Type": "application/json"}
    conn.connect()
    sock = conn.sock

    def call(method: str, path: str, body: dict | None = None, headers: dict | None = None) -> int:
        conn.request(method, "/v2" + path, body=json.dumps(body) if body else None, headers=headers or auth)
        resp = conn.getresponse()
        resp.read()
        return resp.status

    # When it sends a refused request with a body, a create, a 204 and a 404 in a row
    statuses = [
        call("POST", "/pods", POD, headers={"Content-Type": "application/json"}),
        call("POST", "/pods", POD),
        call("DELETE", f"/pods/{runpod_emulator.pods[0]['id']}"),
        call("GET", "/pods/nosuchpod00000"),
        call("GET", "/pods"),
    ]
    # Then every answer arrives on the same socket
    assert statuses == [401, 201, 204, 404, 200]
    assert conn.sock is sock
    conn.close()


def test_an_oversized_body_is_refused_unread_and_the_connection_closed(runpod_emulator):
    # Given a request announcing a body over the limit
    conn = http.client.HTTPConnection("127.0.0.1", runpod_emulator.port, timeout=5)
    conn.putrequest("POST", "/v2/pods")
    conn.putheader("Authorization", f"Bearer {KEY}")
    conn.putheader("Content-Length", str(MAX_BODY_BYTES + 1))
    conn.endheaders()
    # Then it is answered at once with 413, and the connection (now out of step) is closed
    resp = conn.getresponse()
    assert resp.status == 413 and resp.getheader("Connection") == "close"
    assert json.loads(resp.read())["detail"] == "request body too large"
    conn.close()
    assert runpod_emulator.pods == []


def test_the_request_log_records_api_calls_without_query_or_control_calls(api, runpod_emulator):
    api("GET", "/pods?includeClusterPods=true")
    api("GET", "/pods", key=None)
    api.control("GET", "/state")
    assert runpod_emulator.request_log == [("GET", "/v2/pods"), ("GET", "/v2/pods")]


def test_stop_releases_hanging_requests_and_closes_kept_alive_connections():
    emulator = RunPodEmulator(api_key=KEY).start()
    api = Api(emulator)
    assert api("GET", "/pods").status_code == 200  # leaves a kept-alive connection behind
    emulator.add_fault("hang", path="/v2/catalog/gpus")
    outcome: list[BaseException] = []

    def hang() -> None:
        try:
            requests.get(emulator.url + "/catalog/gpus", timeout=10)
        except requests.RequestException as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=hang)
    waiter.start()
    time.sleep(0.1)
    # When the emulator stops while a request hangs
    started = time.monotonic()
    emulator.stop()
    waiter.join(timeout=5)
    # Then the hanging request ends at once, without an answer
    assert time.monotonic() - started < 2
    assert isinstance(outcome[0], requests.ConnectionError)
    # And neither the kept-alive connection nor a new one gets answers any more
    with pytest.raises(requests.ConnectionError):
        api("GET", "/pods", timeout=1)
    emulator.stop()  # idempotent


def test_reset_returns_to_the_configured_state():
    with RunPodEmulator(api_key=KEY, capacity={RTX_4090: 2}) as emulator:
        api = Api(emulator)
        # Given pods, faults, logged requests and changed capacity
        api.create()
        emulator.set_capacity("Tesla T4", 0)
        emulator.add_fault("status", status=500, path="/v2/catalog/gpus")
        # When the emulator is reset over HTTP
        assert api.control("POST", "/reset").status_code == 204
        # Then only the configuration is left
        assert emulator.pods == [] and emulator.faults == [] and emulator.request_log == []
        assert emulator.capacity[RTX_4090] == 2 and emulator.capacity["Tesla T4"] is None
        assert api("GET", "/catalog/gpus").status_code == 200


# --- fault injection ------------------------------------------------------------------------


def test_latency_delays_then_answers(api, runpod_emulator):
    runpod_emulator.add_fault("latency", seconds=0.2, method="GET", path="/v2/pods", times=1)
    started = time.monotonic()
    slow = api("GET", "/pods")
    elapsed = time.monotonic() - started
    assert slow.status_code == 200 and elapsed >= 0.2
    started = time.monotonic()
    api("GET", "/pods")
    assert time.monotonic() - started < 0.2


def test_hang_answers_nothing(api, runpod_emulator):
    runpod_emulator.add_fault("hang", path="/v2/pods", times=1)
    with pytest.raises(requests.ReadTimeout):
        api("GET", "/pods", timeout=0.2)
    assert api("GET", "/pods").status_code == 200


def test_status_answers_the_given_status_headers_and_body(api, runpod_emulator):
    # Given three one-off status faults: default body, JSON body, text body
    runpod_emulator.add_fault("status", status=503, headers={"Retry-After": "7"}, path="/v2/pods", times=1)
    runpod_emulator.add_fault("status", status=500, body={"error": "boom"}, path="/v2/pods", times=1)
    runpod_emulator.add_fault("status", status=502, body="<html>bad gateway</html>", path="/v2/pods", times=1)
    # Then they answer in order, each once
    first = api("GET", "/pods")
    assert_problem(first, 503, "Something went wrong.")
    assert first.headers["Retry-After"] == "7"
    second = api("GET", "/pods")
    assert second.status_code == 500 and second.json() == {"error": "boom"}
    third = api("GET", "/pods")
    assert third.status_code == 502 and third.text == "<html>bad gateway</html>"
    assert api("GET", "/pods").status_code == 200


@pytest.mark.parametrize("apply", [False, True])
def test_status_with_apply_does_the_work_and_fails_anyway(api, runpod_emulator, apply):
    runpod_emulator.add_fault("status", status=500, method="POST", path="/v2/pods", apply=apply, times=1)
    resp = api("POST", "/pods", json=POD)
    assert resp.status_code == 500
    assert len(runpod_emulator.pods) == (1 if apply else 0)


def test_malformed_answers_200_with_invalid_json(api, runpod_emulator):
    runpod_emulator.add_fault("malformed", path="/v2/pods", method="GET", times=1)
    resp = api("GET", "/pods")
    assert resp.status_code == 200 and resp.headers["Content-Type"] == "application/json"
    with pytest.raises(ValueError):
        resp.json()


def test_malformed_with_apply_cuts_the_real_answer_off(api, runpod_emulator):
    runpod_emulator.add_fault("malformed", path="/v2/pods", method="POST", apply=True, times=1)
    resp = api("POST", "/pods", json=POD)
    [pod] = runpod_emulator.pods
    assert resp.text.startswith('{"id": "' + pod["id"])
    with pytest.raises(ValueError):
        resp.json()


@pytest.mark.parametrize("apply", [False, True])
def test_reset_drops_the_connection(api, runpod_emulator, apply):
    runpod_emulator.add_fault("reset", method="POST", path="/v2/pods", apply=apply, times=1)
    with pytest.raises(requests.ConnectionError):
        api("POST", "/pods", json=POD)
    assert len(runpod_emulator.pods) == (1 if apply else 0)
    assert api("GET", "/pods").status_code == 200


def test_capacity_fault_refuses_without_creating(api, runpod_emulator):
    runpod_emulator.add_fault("capacity", method="POST", path="/v2/pods", times=1)
    assert_problem(api("POST", "/pods", json=POD), 400, NO_INSTANCES)
    assert runpod_emulator.pods == []
    assert api("POST", "/pods", json=POD).status_code == 201


def test_a_fault_fires_only_on_matching_requests_and_only_times_times(api, runpod_emulator):
    # Given a fault for DELETEs of pods only, twice
    pod_id = api.create()["id"]
    runpod_emulator.add_fault("status", status=503, method="delete", path=r"/v2/pods/\w+", times=2)
    # Then other methods and paths are untouched (the path must match in full)
    assert api("GET", f"/pods/{pod_id}").status_code == 200
    assert api("GET", "/pods").status_code == 200
    # And the fault fires exactly twice
    statuses = [api("DELETE", f"/pods/{pod_id}").status_code for _ in range(3)]
    assert statuses == [503, 503, 204]
    assert runpod_emulator.faults == []


def test_the_first_matching_fault_wins_and_a_forever_fault_stays(api, runpod_emulator):
    runpod_emulator.add_fault("status", status=502, path="/v2/pods")
    runpod_emulator.add_fault("status", status=504, path="/v2/pods")
    assert [api("GET", "/pods").status_code for _ in range(3)] == [502, 502, 502]
    assert runpod_emulator.faults[0]["remaining"] is None
    runpod_emulator.clear_faults()
    assert api("GET", "/pods").status_code == 200


def test_faults_never_touch_control_endpoints(api, runpod_emulator):
    runpod_emulator.add_fault("reset")
    assert api.control("GET", "/state").status_code == 200
    assert api.control("DELETE", "/faults").status_code == 204


@pytest.mark.parametrize(
    "rule",
    [
        {"kind": "status"},
        {"kind": "latency"},
        {"kind": "latency", "seconds": 1, "apply": True},
        {"kind": "capacity", "apply": True},
        {"kind": "reset", "status": 500},
        {"kind": "hang", "body": "x"},
        {"kind": "malformed", "body": {"a": 1}},
        {"kind": "status", "status": 500, "path": "("},
        {"kind": "status", "status": 500, "times": 0},
        {"kind": "explode"},
        {"kind": "reset", "tims": 1},
        {"kind": "rate_limit", "apply": True},
        {"kind": "rate_limit", "body": "x"},
        {"kind": "capacity", "gpu": ""},
    ],
)
def test_inconsistent_fault_rules_are_rejected(api, rule):
    with pytest.raises(ValidationError):
        Fault.model_validate(rule)
    assert_problem(api.control("POST", "/faults", json=rule), 422)


def test_faults_can_be_managed_over_http(api, runpod_emulator):
    # When two rules are posted as a list
    rules = [
        {"kind": "status", "status": 503, "path": "/v2/pods", "times": 1, "headers": {"Retry-After": "3"}},
        {"kind": "capacity", "method": "POST", "path": "/v2/pods"},
    ]
    resp = api.control("POST", "/faults", json=rules)
    # Then both are armed, in order, with their remaining counts
    assert resp.status_code == 201
    assert [(f["kind"], f["remaining"]) for f in api.control("GET", "/faults").json()["faults"]] == [
        ("status", 1),
        ("capacity", None),
    ]
    assert api("GET", "/pods").status_code == 503
    assert_problem(api("POST", "/pods", json=POD), 400, NO_INSTANCES)
    # And a single rule (not a list) is accepted too; DELETE disarms everything
    assert api.control("POST", "/faults", json={"kind": "reset"}).status_code == 201
    assert api.control("DELETE", "/faults").status_code == 204
    assert runpod_emulator.faults == []
    assert api("GET", "/pods").status_code == 200


def test_rate_limit_answers_429_like_an_exhausted_window(api, runpod_emulator):
    runpod_emulator.add_fault("rate_limit", path="/v2/pods", times=1)
    runpod_emulator.add_fault("rate_limit", seconds=2.5, path="/v2/pods", times=1)
    runpod_emulator.add_fault("rate_limit", headers={"Retry-After": "9"}, path="/v2/pods", times=1)
    first = api("GET", "/pods")
    assert_problem(first, 429, "rate limit exceeded for the minute window")
    assert first.headers["Retry-After"] == "1"
    assert first.headers["RateLimit"] == '"minute";r=0;t=1' and "RateLimit-Policy" in first.headers
    assert api("GET", "/pods").headers["Retry-After"] == "3"
    assert api("GET", "/pods").headers["Retry-After"] == "9"
    assert api("GET", "/pods").status_code == 200


def test_a_fault_can_be_limited_to_one_gpu_type(api, runpod_emulator):
    # Given capacity exhausted for RTX 4090s only
    runpod_emulator.add_fault("capacity", gpu=RTX_4090)
    # Then creates of that type are refused, other types and other calls are untouched
    assert_problem(api("POST", "/pods", json=POD), 400, NO_INSTANCES)
    assert api("POST", "/pods", json={**POD, "gpu": {"id": "NVIDIA A40"}}).status_code == 201
    assert api("GET", "/pods").status_code == 200
    assert [p["gpu"]["id"] for p in runpod_emulator.pods] == ["NVIDIA A40"]


def test_fired_faults_are_logged_until_reset(api, runpod_emulator):
    runpod_emulator.add_fault("status", status=503, method="GET", times=1)
    runpod_emulator.add_fault("status", status=500, method="POST", path="/v2/pods", apply=True, times=1)
    api("GET", "/pods")
    api("GET", "/pods")
    api("POST", "/pods", json=POD)
    expected = [
        {"kind": "status", "status": 503, "method": "GET", "path": "/v2/pods", "apply": False},
        {"kind": "status", "status": 500, "method": "POST", "path": "/v2/pods", "apply": True},
    ]
    assert runpod_emulator.fired == expected
    assert api.control("GET", "/state").json()["fired"] == expected
    runpod_emulator.reset()
    assert runpod_emulator.fired == []


# Every fault the reliability work needs (issue: latency, a hang past the timeout, 429 with
# Retry-After, 500/502/503, malformed JSON, resets, capacity, "500 but created anyway"), each
# with what a create then meets and how many pods exist afterwards.
FAULT_CATALOGUE = {
    "latency": ({"kind": "latency", "seconds": 0.05}, 201, 1),
    "hang": ({"kind": "hang", "seconds": 2}, "timeout", 0),
    "429 Retry-After": ({"kind": "rate_limit", "seconds": 1}, 429, 0),
    "500": ({"kind": "status", "status": 500}, 500, 0),
    "502": ({"kind": "status", "status": 502}, 502, 0),
    "503": ({"kind": "status", "status": 503, "headers": {"Retry-After": "2"}}, 503, 0),
    "malformed": ({"kind": "malformed"}, "invalid json", 0),
    "reset": ({"kind": "reset"}, "reset", 0),
    "capacity": ({"kind": "capacity", "gpu": RTX_4090}, 400, 0),
    "500 but created": ({"kind": "status", "status": 500, "apply": True}, 500, 1),
}


@pytest.mark.parametrize("how", ["http", "python"])
@pytest.mark.parametrize("name", FAULT_CATALOGUE)
def test_every_fault_kind_can_be_armed_at_runtime_over_http_or_per_test(api, runpod_emulator, name, how):
    rule, outcome, pods = FAULT_CATALOGUE[name]
    rule = {**rule, "method": "POST", "path": "/v2/pods", "times": 1}
    # Given the fault armed over the control endpoint (a running stack) or from Python (a test)
    if how == "http":
        assert api.control("POST", "/faults", json=rule).status_code == 201
    else:
        runpod_emulator.add_fault(**rule)
    # When a create is sent
    resp = None
    try:
        resp = api("POST", "/pods", json=POD, timeout=0.5)
    except requests.ReadTimeout:
        assert outcome == "timeout"
    except requests.ConnectionError:
        assert outcome == "reset"
    else:
        if outcome == "invalid json":
            assert resp.status_code == 200
            with pytest.raises(ValueError):
                resp.json()
        else:
            assert resp.status_code == outcome, resp.text
    # Then it fired once, as logged, and left as many pods as RunPod would have
    assert [f["kind"] for f in runpod_emulator.fired] == [rule["kind"]]
    assert len(runpod_emulator.pods) == pods
    assert runpod_emulator.faults == []
    if name == "429 Retry-After":
        assert resp.headers["Retry-After"] == "1"
    if name == "503":
        assert resp.headers["Retry-After"] == "2"


def test_rate_limits_can_be_changed_at_runtime(api, runpod_emulator):
    # Given a quota of two requests a minute, set over HTTP
    resp = api.control("PUT", "/rate-limits", json={"minute": 2})
    assert resp.status_code == 200 and resp.json() == {"rate_limits": {"minute": 2}}
    # Then the third request is refused with the window's reset time
    assert [api("GET", "/pods").status_code for _ in range(3)] == [200, 200, 429]
    # And null restores the configured quotas (with fresh counts)
    assert api.control("PUT", "/rate-limits", data="null").json()["rate_limits"]["minute"] == 1000
    assert api("GET", "/pods").status_code == 200
    runpod_emulator.set_rate_limits({"minute": 1_000_000})
    assert runpod_emulator.rate_limits == {"minute": 1_000_000}


@pytest.mark.parametrize("quotas", [{"week": 5}, {"minute": 0}, {"minute": "5"}, ["minute"]])
def test_invalid_rate_limits_are_rejected(api, runpod_emulator, quotas):
    assert_problem(api.control("PUT", "/rate-limits", json=quotas), 422)
    assert runpod_emulator.rate_limits["minute"] == 1000
