"""A bounded load test of the whole local stack, with RunPod faults injected while it runs.

    make loadtest                                   # 8 clients for 30 s
    make loadtest ARGS='--clients 16 --duration 60 --seed 7'

It starts its own LocalStack (moto, the RunPod emulator, the secrets-extension emulator and
the local API Gateway, all on loopback and free ports), adds users, logs them in, and runs
`--clients` threads for `--duration` seconds (and at most `--max-requests` each). Every client
sends a weighted mix through the gateway: POST /pods (always with an Idempotency-Key; about
one create in five repeats the client's previous key and body, to test replay), GET /pods,
GET /pods/{id}, POST /pods/stop and DELETE /pods/{id}. Meanwhile a fault thread arms one
RunPod fault after another over the emulator's control endpoint: latency, 429 with
Retry-After, 500/502/503, malformed JSON, connection resets, no capacity for one GPU type, and
"answer 500 but create the pod anyway".

At the end it clears the faults, runs the reconciler once (if the template has one), checks
the invariants below, prints a table, writes the results as JSON and exits 1 on a violation:

  0. every request got an HTTP answer from the gateway (no client-side timeout or reset)
  1. no 5xx without a JSON {"detail": "..."} body
  2. every pod on the emulator has exactly one ownership record, and every record a pod
  3. one pod per idempotency key: every 200 for a key named the same pod, no pod was
     answered for two keys, no two pods on the emulator carry the same PODGATE_CREATE_TAG, and
     no replay with the same key and body was refused (422)
  4. nothing lost: every pod a create returned is still there (record and pod) or was
     removed by a DELETE that answered 200
  5. RunPod's own words never reach a caller (no RunPod problem text in any response body)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import math
import random
import sys
import threading
import time
import traceback
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
if importlib.util.find_spec("podgate_local") is None:  # run without the Makefile's PYTHONPATH
    sys.path[:0] = [str(ROOT / "layers" / "podgate"), str(ROOT / "local")]

import boto3  # noqa: E402
import requests  # noqa: E402

from podgate_local.runpod_emulator import GENERIC_FAILURE, NO_INSTANCES, NOT_ENOUGH_FREE_GPUS  # noqa: E402
from podgate_local.stack import LocalStack  # noqa: E402

DEFAULT_RESULTS = ROOT / "bench" / "loadtest-results.json"
CREATE_TAG_ENV = "PODGATE_CREATE_TAG"
PENDING_PREFIX = "pending#"
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
RECONCILER = "ReconcileFunction"
RECONCILE_EVENT = {"source": "aws.events", "detail-type": "Scheduled Event", "detail": {}}
# Longer than API Gateway's 29 s integration limit: the gateway must always answer first.
CLIENT_TIMEOUT = 35.0
FAULTY_GPU = "NVIDIA GeForce RTX 4090"
GPU_TYPES = ("nvidia-t4", FAULTY_GPU, "NVIDIA A40")
OPERATIONS = {"create": 30, "list": 25, "get": 20, "stop": 10, "delete": 15}
REPLAY_SHARE = 0.2
# Texts only RunPod writes; none of them may reach a caller.
RUNPOD_WORDS = (GENERIC_FAILURE, NO_INSTANCES, NOT_ENOUGH_FREE_GPUS, "rate limit exceeded for the", "rpa_local_")

# name -> the rule armed over /_emulator/faults (rng-dependent parts filled in by FaultRotor).
FAULT_KINDS = ("latency", "rate_limit", "500", "502", "503", "malformed", "reset", "capacity", "created_anyway",
               "hang")
DEFAULT_FAULTS = tuple(k for k in FAULT_KINDS if k != "hang")


@dataclass(frozen=True)
class LoadConfig:
    clients: int = 8
    duration: float = 30.0
    users: int = 0  # 0: one user per two clients
    max_requests: int = 5000  # per client
    seed: int | None = None
    faults: tuple[str, ...] = DEFAULT_FAULTS
    fault_interval: float = 1.0
    function_concurrency: int = 4
    throttle: tuple[int, int] = (1000, 2000)  # the stage's rate and burst, per method
    runpod_rate_limit: int | None = None  # RunPod requests per minute; None: practically unlimited
    results_path: Path | None = DEFAULT_RESULTS
    verbose: bool = True

    def __post_init__(self) -> None:
        if self.clients < 1 or self.duration <= 0 or self.max_requests < 1:
            raise ValueError("clients, duration and max_requests must be positive")
        unknown = set(self.faults) - set(FAULT_KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; choose from {list(FAULT_KINDS)}")


@dataclass
class Sample:
    op: str
    status: int | None  # None: no HTTP answer (client-side timeout or connection error)
    seconds: float
    detail_ok: bool  # the body is a JSON object with a string `detail` (checked for errors)
    runpod_words: bool
    error: str = ""
    detail: str = ""


@dataclass
class CreateOutcome:
    key: str
    client: int
    replay: bool
    status: int | None
    pod_id: str | None


@dataclass
class ClientLog:
    samples: list[Sample] = field(default_factory=list)
    creates: list[CreateOutcome] = field(default_factory=list)
    deleted: set[str] = field(default_factory=set)  # pod ids a DELETE answered 200 for
    failed_deletes: Counter[str] = field(default_factory=Counter)
    crash: str = ""


@dataclass
class Results:
    config: dict[str, Any]
    seed: int
    users: int
    duration: float
    requests: int
    per_status: dict[str, int]
    per_op: dict[str, dict[str, Any]]
    latency_ms: dict[str, float]
    faults_armed: dict[str, int]
    faults_fired: dict[str, int]
    errors_5xx: dict[str, int]
    reconcile: str
    function_errors: dict[str, int]
    state: dict[str, int]
    invariants: list[dict[str, Any]]

    @property
    def violations(self) -> list[str]:
        return [f"({i['id']}) {v}" for i in self.invariants for v in i["violations"]]

    @property
    def passed(self) -> bool:
        return not self.violations

    def to_json(self) -> dict[str, Any]:
        return {**asdict(self), "passed": self.passed}


# --- the stack ------------------------------------------------------------------------------


def add_users(stack: LocalStack, count: int) -> list[tuple[str, str]]:
    from podgate.admin import ensure_user

    users = [(f"load-{i}-{uuid.uuid4().hex[:6]}", f"load-password-{uuid.uuid4().hex}") for i in range(count)]
    with stack.aws_environment():
        for username, password in users:
            ensure_user(stack.tables["UsersTable"], username, password, "user")
    return users


def login(base: str, username: str, password: str) -> str:
    resp = requests.post(f"{base}/auth", json={"username": username, "password": password}, timeout=CLIENT_TIMEOUT)
    if resp.status_code != 200:
        raise RuntimeError(f"login of {username} failed: {resp.status_code} {resp.text[:200]}")
    return resp.json()["access_token"]


def _dynamo(stack: LocalStack) -> Any:
    return boto3.client(
        "dynamodb",
        endpoint_url=stack.aws_endpoint,
        region_name=stack.region,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106 - moto's dummy credentials
    )


def ownership_records(stack: LocalStack) -> list[dict[str, Any]]:
    """Every item of the pods table but the pending ones, as {attribute: plain value}."""
    items: list[dict[str, Any]] = []
    for page in _dynamo(stack).get_paginator("scan").paginate(TableName=stack.tables["PodsTable"]):
        for item in page["Items"]:
            plain = {k: next(iter(v.values())) for k, v in item.items()}
            if not str(plain.get("pod_id", "")).startswith(PENDING_PREFIX):
                items.append(plain)
    return items


# --- the clients ----------------------------------------------------------------------------


def _body_facts(resp: requests.Response) -> tuple[bool, str, bool]:
    """(JSON object with a string detail?, that detail, RunPod's words anywhere in the body?)"""
    text = resp.text
    words = any(w in text for w in RUNPOD_WORDS)
    try:
        body = resp.json()
    except ValueError:
        return False, "", words
    detail = body.get("detail") if isinstance(body, dict) else None
    return isinstance(detail, str), detail if isinstance(detail, str) else "", words


class LoadClient(threading.Thread):
    """One API user's session, sending a weighted mix of requests until the deadline."""

    def __init__(self, index: int, base: str, token: str, cfg: LoadConfig, seed: int, deadline: float) -> None:
        super().__init__(name=f"load-client-{index}", daemon=True)
        self.index = index
        self.base = base
        self.cfg = cfg
        self.rng = random.Random(seed)  # noqa: S311 - load mix, not security
        self.deadline = deadline
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.log = ClientLog()
        self.pods: list[str] = []  # pods this client created and has not seen deleted
        self.last_create: tuple[str, dict[str, Any]] | None = None
        self.serial = 0

    def run(self) -> None:
        try:
            for _ in range(self.cfg.max_requests):
                if time.monotonic() >= self.deadline:
                    break
                self.step()
        except Exception as exc:  # a harness bug must fail the run, not vanish with its thread
            self.log.crash = f"{self.name} crashed: {''.join(traceback.format_exception(exc))}"
        finally:
            self.session.close()

    def step(self) -> None:
        op = self.rng.choices(list(OPERATIONS), weights=list(OPERATIONS.values()))[0]
        if op in ("get", "stop", "delete") and not self.pods:
            op = "create"
        getattr(self, f"op_{op}")()

    def _send(self, op: str, method: str, path: str, **kw: Any) -> requests.Response | None:
        started = time.monotonic()
        try:
            resp = self.session.request(method, self.base + path, timeout=CLIENT_TIMEOUT, **kw)
        except requests.RequestException as exc:
            self.log.samples.append(Sample(op, None, time.monotonic() - started, False, False, type(exc).__name__))
            return None
        ok, detail, words = _body_facts(resp)
        self.log.samples.append(Sample(op, resp.status_code, time.monotonic() - started, ok, words, "", detail))
        return resp

    def op_create(self) -> None:
        replay = self.last_create is not None and self.rng.random() < REPLAY_SHARE
        if replay:
            key, body = self.last_create  # type: ignore[misc]
        else:
            self.serial += 1
            key = f"load-{self.index}-{self.serial}-{uuid.uuid4().hex[:8]}"
            body = {"name": f"load-{self.index}-{self.serial}", "image": "runpod/pytorch:2.4.0",
                    "gpu_type": self.rng.choice(GPU_TYPES)}
            self.last_create = (key, body)
        resp = self._send("create", "POST", "/pods", json=body, headers={"Idempotency-Key": key})
        pod_id = None
        if resp is not None and resp.status_code == 200:
            with contextlib.suppress(ValueError, AttributeError):
                pod_id = resp.json().get("pod_id")
            if isinstance(pod_id, str) and pod_id not in self.pods and pod_id not in self.log.deleted:
                self.pods.append(pod_id)
        self.log.creates.append(CreateOutcome(key, self.index, replay, resp.status_code if resp else None, pod_id))

    def op_list(self) -> None:
        self._send("list", "GET", "/pods")

    def op_get(self) -> None:
        self._send("get", "GET", f"/pods/{self.rng.choice(self.pods)}")

    def op_stop(self) -> None:
        self._send("stop", "POST", "/pods/stop", json={"pod_id": self.rng.choice(self.pods)})

    def op_delete(self) -> None:
        pod_id = self.rng.choice(self.pods)
        resp = self._send("delete", "DELETE", f"/pods/{pod_id}")
        if resp is not None and resp.status_code == 200:
            self.log.deleted.add(pod_id)
            self.pods.remove(pod_id)
        else:
            self.log.failed_deletes[pod_id] += 1
            if resp is not None and resp.status_code == 404:
                self.pods.remove(pod_id)  # not ours to retry; invariant 4 will say where it went


# --- faults ---------------------------------------------------------------------------------


class FaultRotor(threading.Thread):
    """Arms one RunPod fault per interval over the emulator's control endpoint, at runtime."""

    def __init__(self, control_url: str, kinds: Sequence[str], interval: float, seed: int, deadline: float) -> None:
        super().__init__(name="load-faults", daemon=True)
        self.url = control_url + "/faults"
        self.kinds = list(kinds)
        self.interval = interval
        self.rng = random.Random(seed)  # noqa: S311 - fault schedule, not security
        self.deadline = deadline
        self.armed: Counter[str] = Counter()
        self.stopped = threading.Event()
        self.error: str | None = None

    def rule(self, kind: str) -> dict[str, Any]:
        times = self.rng.randint(1, 4)
        create = {"method": "POST", "path": "/v2/pods"}
        if kind == "latency":
            return {"kind": "latency", "seconds": round(self.rng.uniform(0.05, 0.3), 3)}
        if kind == "rate_limit":
            return {"kind": "rate_limit", "seconds": 1, "times": times}
        if kind in ("500", "502", "503"):
            return {"kind": "status", "status": int(kind), "times": times}
        if kind == "malformed":
            return {"kind": "malformed", "times": times}
        if kind == "reset":
            return {"kind": "reset", "times": times}
        if kind == "capacity":
            return {"kind": "capacity", "gpu": FAULTY_GPU, **create}
        if kind == "created_anyway":
            return {"kind": "status", "status": 500, "apply": True, "times": self.rng.randint(1, 2), **create}
        if kind == "hang":
            return {"kind": "hang", "seconds": 20, "times": 1}
        raise ValueError(kind)

    def run(self) -> None:
        if not self.kinds:
            return
        with requests.Session() as session:
            try:
                while not self.stopped.is_set() and time.monotonic() < self.deadline:
                    kind = self.rng.choice(self.kinds)
                    session.delete(self.url, timeout=5).raise_for_status()
                    session.post(self.url, json=self.rule(kind), timeout=5).raise_for_status()
                    self.armed[kind] += 1
                    self.stopped.wait(min(self.interval, max(0.0, self.deadline - time.monotonic())))
            except requests.RequestException as exc:
                self.error = f"fault control failed: {type(exc).__name__}: {exc}"
            finally:
                with contextlib.suppress(requests.RequestException):
                    session.delete(self.url, timeout=5)


def _fired_label(f: dict[str, Any]) -> str:
    if f["kind"] == "status":
        return f"status {f['status']}" + (" (created anyway)" if f.get("apply") else "")
    return str(f["kind"])


# --- the run --------------------------------------------------------------------------------


def _percentile(sorted_values: list[float], q: float) -> float:
    if not sorted_values:
        return 0.0
    rank = max(0, math.ceil(q / 100 * len(sorted_values)) - 1)
    return sorted_values[rank]


def _latency(samples: Sequence[Sample]) -> dict[str, float]:
    values = sorted(s.seconds * 1000 for s in samples)
    return {
        "p50": round(_percentile(values, 50), 1),
        "p90": round(_percentile(values, 90), 1),
        "p99": round(_percentile(values, 99), 1),
        "max": round(values[-1], 1) if values else 0.0,
    }


def _say(cfg: LoadConfig, message: str) -> None:
    if cfg.verbose:
        print(message, file=sys.stderr, flush=True)


def run(cfg: LoadConfig) -> Results:
    seed = cfg.seed if cfg.seed is not None else random.SystemRandom().randrange(1 << 31)
    users_wanted = cfg.users or max(1, cfg.clients // 2)
    overrides = {"ThrottlingRateLimit": str(cfg.throttle[0]), "ThrottlingBurstLimit": str(cfg.throttle[1])}
    _say(cfg, f"loadtest: starting the local stack (seed {seed})")
    with LocalStack(
        port=0,
        environ={},
        admin_password=f"load-admin-{uuid.uuid4().hex}",
        stack_name="podgate-load",
        parameter_overrides=overrides,
        max_concurrency_per_function=cfg.function_concurrency,
    ) as stack:
        if urlsplit(stack.url).hostname not in LOOPBACK or stack.runpod is None:
            raise RuntimeError("the load test runs only against a loopback stack with the RunPod emulator")
        emulator = stack.runpod
        emulator.set_rate_limits({"minute": cfg.runpod_rate_limit or 10_000_000})
        users = add_users(stack, users_wanted)
        tokens = [login(stack.url, u, p) for u, p in users]
        _say(cfg, f"loadtest: {len(users)} users logged in; {cfg.clients} clients for {cfg.duration:g} s")

        started = time.monotonic()
        deadline = started + cfg.duration
        clients = [
            LoadClient(i, stack.url, tokens[i % len(tokens)], cfg, seed + 1 + i, deadline) for i in range(cfg.clients)
        ]
        rotor = FaultRotor(emulator.control_url, cfg.faults, cfg.fault_interval, seed, deadline)
        rotor.start()
        for c in clients:
            c.start()
        for c in clients:
            # Each request is bounded by CLIENT_TIMEOUT, so this ends; a stuck thread is reported.
            c.join(timeout=cfg.duration + 2 * CLIENT_TIMEOUT)
        elapsed = time.monotonic() - started
        rotor.stopped.set()
        rotor.join(timeout=10)
        emulator.clear_faults()
        fired = Counter(_fired_label(f) for f in emulator.fired)
        stuck = [c.name for c in clients if c.is_alive()]

        reconcile = _reconcile(stack)
        _say(cfg, f"loadtest: {reconcile}")
        pods = emulator.pods
        records = ownership_records(stack)
        function_errors = _function_errors(stack.logs)

    logs = [c.log for c in clients]
    samples = [s for log in logs for s in log.samples]
    invariants = check_invariants(logs, pods, records)
    if stuck:
        invariants[0]["violations"].append(f"clients still running after the deadline: {stuck}")
    if rotor.error:
        invariants[0]["violations"].append(rotor.error)
    per_op: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        mine = [s for s in samples if s.op == op]
        per_op[op] = {
            "requests": len(mine),
            "statuses": dict(sorted(Counter(str(s.status or "no answer") for s in mine).items())),
            "latency_ms": _latency(mine),
        }
    return Results(
        config={k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(cfg).items()},
        seed=seed,
        users=len(users),
        duration=round(elapsed, 2),
        requests=len(samples),
        per_status=dict(sorted(Counter(str(s.status or "no answer") for s in samples).items())),
        per_op=per_op,
        latency_ms=_latency(samples),
        faults_armed=dict(sorted(rotor.armed.items())),
        faults_fired=dict(sorted(fired.items())),
        errors_5xx=dict(Counter(f"{s.status} {s.detail or '<no detail>'}" for s in samples
                                if s.status and s.status >= 500).most_common()),
        reconcile=reconcile,
        function_errors=function_errors,
        state={"pods_on_runpod": len(pods), "ownership_records": len(records),
               "creates_answered_200": sum(1 for log in logs for c in log.creates if c.status == 200),
               "key_replays": sum(1 for log in logs for c in log.creates if c.replay),
               "deleted_200": sum(len(log.deleted) for log in logs)},
        invariants=invariants,
    )


def _function_errors(lines: Sequence[str]) -> dict[str, int]:
    """ERROR log lines of the functions, counted by function and what failed."""
    found: Counter[str] = Counter()
    for line in lines:
        fn, _, text = line.partition("] ")
        if '"level":"ERROR"' not in text:
            continue
        try:
            entry = json.loads(text)
        except ValueError:
            continue
        what = entry.get("exception_name") or ""
        value = ((entry.get("stack_trace") or {}).get("value") or "")[:120]
        found[f"{fn.lstrip('[')}: {entry.get('message', '')} {what} {value}".strip()] += 1
    return dict(found.most_common())


def _reconcile(stack: LocalStack) -> str:
    if RECONCILER not in stack.stack.functions:
        return f"reconciler: skipped ({RECONCILER} is not in the template)"
    invocation = stack.invoke(RECONCILER, RECONCILE_EVENT)
    error = getattr(invocation, "error", None)
    payload = getattr(invocation, "payload", None)
    outcome = f"error {error}" if error else f"ok {json.dumps(payload)[:300] if payload is not None else ''}"
    return f"reconciler: invoked once after the run: {outcome}"


def _there(present: bool) -> str:
    return "present" if present else "gone"


def check_invariants(
    logs: Sequence[ClientLog], pods: Sequence[dict[str, Any]], records: Sequence[dict[str, Any]]
) -> list[dict[str, Any]]:
    samples = [s for log in logs for s in log.samples]
    creates = [c for log in logs for c in log.creates]
    deleted = set().union(*(log.deleted for log in logs)) if logs else set()
    failed_deletes: Counter[str] = sum((log.failed_deletes for log in logs), Counter())

    unanswered = Counter(f"{s.op}: {s.error}" for s in samples if s.status is None)
    inv0 = [f"{n} x {what}" for what, n in unanswered.items()]
    inv0 += [log.crash for log in logs if log.crash]

    no_detail = Counter(f"{s.op} answered {s.status}" for s in samples
                        if s.status is not None and s.status >= 500 and not s.detail_ok)
    inv1 = [f"{n} x {what} without a JSON detail" for what, n in no_detail.items()]

    pod_ids = Counter(p["id"] for p in pods)
    record_ids = Counter(str(r["pod_id"]) for r in records)
    inv2 = [f"pod {p} has no ownership record" for p in pod_ids if p not in record_ids]
    inv2 += [f"pod {p} has {n} ownership records" for p, n in record_ids.items() if n > 1 and p in pod_ids]
    inv2 += [f"record {r} has no pod on RunPod" for r in record_ids if r not in pod_ids]

    by_key: dict[str, set[str]] = defaultdict(set)
    for c in creates:
        if c.status == 200 and c.pod_id:
            by_key[c.key].add(c.pod_id)
    inv3 = [f"key {k} answered different pods {sorted(v)}" for k, v in by_key.items() if len(v) > 1]
    tags = Counter((p.get("env") or {}).get(CREATE_TAG_ENV) for p in pods)
    tags.pop(None, None)
    inv3 += [f"{n} pods on RunPod carry create tag {t}" for t, n in tags.items() if n > 1]
    pod_keys: dict[str, set[str]] = defaultdict(set)
    for k, ids in by_key.items():
        for pod_id in ids:
            pod_keys[pod_id].add(k)
    inv3 += [f"pod {p} was answered for several keys {sorted(k)}" for p, k in pod_keys.items() if len(k) > 1]
    refused = Counter(c.key for c in creates if c.replay and c.status == 422)
    inv3 += [f"key {k}: a replay with the same body answered 422 ({n} x)" for k, n in refused.items()]

    inv4 = []
    for pod_id in sorted({c.pod_id for c in creates if c.status == 200 and c.pod_id}):
        present = pod_id in pod_ids and pod_id in record_ids
        if present or pod_id in deleted:
            if present and pod_id in deleted:
                inv4.append(f"pod {pod_id} answered 200 to DELETE but is still there")
            continue
        where = f"pod {_there(pod_id in pod_ids)}, record {_there(pod_id in record_ids)}"
        tried = f"; {failed_deletes[pod_id]} DELETE(s) not answered 200" if failed_deletes[pod_id] else ""
        inv4.append(f"pod {pod_id} lost ({where}{tried})")

    words = Counter(f"{s.op} answered {s.status}" for s in samples if s.runpod_words)
    inv5 = [f"{n} x {what} with RunPod's own words in the body" for what, n in words.items()]

    return [
        {"id": 0, "name": "every request got an HTTP answer", "violations": inv0},
        {"id": 1, "name": 'no 5xx without {"detail"}', "violations": inv1},
        {"id": 2, "name": "pods and ownership records match one to one", "violations": inv2},
        {"id": 3, "name": "one pod per idempotency key", "violations": inv3},
        {"id": 4, "name": "nothing lost", "violations": inv4},
        {"id": 5, "name": "RunPod's words never reach a caller", "violations": inv5},
    ]


# --- output ---------------------------------------------------------------------------------


def render(results: Results) -> str:
    cfg = results.config
    lines = [
        "podgate load test",
        f"  requests       {results.requests}  ({results.requests / max(results.duration, 1e-9):.1f}/s)",
        f"  concurrency    {cfg['clients']} clients, {results.users} users",
        f"  duration       {results.duration:.1f} s (asked {cfg['duration']:g} s), seed {results.seed}",
        "  statuses       " + "  ".join(f"{k}: {v}" for k, v in results.per_status.items()),
        "  latency ms     " + "  ".join(f"{k} {v:g}" for k, v in results.latency_ms.items()),
        "",
        f"  {'operation':<10}{'requests':>9}  {'p50':>7}{'p90':>8}{'p99':>8}{'max':>8}   statuses",
    ]
    for op, row in results.per_op.items():
        lat = row["latency_ms"]
        statuses = " ".join(f"{k}:{v}" for k, v in row["statuses"].items())
        lines.append(f"  {op:<10}{row['requests']:>9}  {lat['p50']:>7g}{lat['p90']:>8g}{lat['p99']:>8g}"
                     f"{lat['max']:>8g}   {statuses}")
    lines += ["", "  faults armed   " + ("  ".join(f"{k}: {v}" for k, v in results.faults_armed.items()) or "none"),
              "  faults fired   " + ("  ".join(f"{k}: {v}" for k, v in results.faults_fired.items()) or "none")]
    if results.errors_5xx:
        lines.append("  5xx answers    " + "; ".join(f"{k} x{v}" for k, v in results.errors_5xx.items()))
    if results.function_errors:
        lines.append("  function errors " + "; ".join(f"{k} x{v}" for k, v in results.function_errors.items()))
    lines += [f"  {results.reconcile}",
              "  end state      " + "  ".join(f"{k}: {v}" for k, v in results.state.items()), "", "  invariants"]
    for inv in results.invariants:
        bad = inv["violations"]
        lines.append(f"    ({inv['id']}) {inv['name']:<48} {'ok' if not bad else f'FAILED ({len(bad)})'}")
        lines += [f"          - {v}" for v in bad[:10]]
        if len(bad) > 10:
            lines.append(f"          ... and {len(bad) - 10} more (see the JSON results)")
    lines.append("")
    lines.append("  PASSED" if results.passed else f"  FAILED: {len(results.violations)} violation(s)")
    return "\n".join(lines)


def write_json(results: Results, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(results.to_json(), indent=2) + "\n")
    tmp.replace(path)


def parse_args(argv: Sequence[str] | None) -> LoadConfig:
    parser = argparse.ArgumentParser(prog="bench/loadtest.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--clients", type=int, default=8, help="concurrent clients (default 8)")
    parser.add_argument("-t", "--duration", type=float, default=30.0, help="seconds to run (default 30)")
    parser.add_argument("--users", type=int, default=0, help="API users (default: one per two clients)")
    parser.add_argument("--max-requests", type=int, default=5000, help="per client (default 5000)")
    parser.add_argument("--seed", type=int, help="makes the request mix and fault schedule repeatable")
    parser.add_argument("--faults", default=",".join(DEFAULT_FAULTS),
                        help=f"comma-separated, from {','.join(FAULT_KINDS)}; 'none' for none")
    parser.add_argument("--fault-interval", type=float, default=1.0, help="seconds each fault stays armed")
    parser.add_argument("--function-concurrency", type=int, default=4, help="warm containers per function")
    parser.add_argument("--throttle", type=int, nargs=2, default=(1000, 2000), metavar=("RATE", "BURST"),
                        help="the stage's throttling per method (template default: 50 100)")
    parser.add_argument("--runpod-rate-limit", type=int, help="RunPod requests per minute (default: unlimited)")
    parser.add_argument("--json", type=Path, default=DEFAULT_RESULTS, help=f"results file (default {DEFAULT_RESULTS})")
    parser.add_argument("--no-json", action="store_true", help="write no results file")
    parser.add_argument("-q", "--quiet", action="store_true", help="print only the table")
    args = parser.parse_args(argv)
    faults = () if args.faults.strip() in ("", "none") else tuple(f.strip() for f in args.faults.split(","))
    try:
        return LoadConfig(
            clients=args.clients, duration=args.duration, users=args.users, max_requests=args.max_requests,
            seed=args.seed, faults=faults, fault_interval=args.fault_interval,
            function_concurrency=args.function_concurrency, throttle=tuple(args.throttle),
            runpod_rate_limit=args.runpod_rate_limit, results_path=None if args.no_json else args.json,
            verbose=not args.quiet,
        )
    except ValueError as exc:
        parser.error(str(exc))


def main(argv: Sequence[str] | None = None) -> int:
    cfg = parse_args(argv)
    results = run(cfg)
    print(render(results))
    if cfg.results_path is not None:
        write_json(results, cfg.results_path)
        print(f"\n  results written to {cfg.results_path}")
    return 0 if results.passed else 1


if __name__ == "__main__":
    sys.exit(main())
