"""Warm invocations of one function, for bench/bench.py.

    python3.13 -I -B bench/_warm.py CONFIG.json RESULT.json

sys.path as in bench/_cold.py (function code, built layer, the runtime's boto3, stdlib). The
handler is imported once and invoked `warmup` + `iterations` times in this process with the
events the config gives, each with a fresh Lambda-like context, timed with perf_counter_ns.

Where the time of each measured invocation goes is recorded from the outside of the
libraries podgate calls (no podgate code is patched):

* `runpod`: requests.Session.request, i.e. each RunPod call as the client library makes it;
* `dynamodb`: botocore's BaseClient._make_api_call, i.e. each DynamoDB call as the SDK makes
  it (parameter validation, serialisation, signing, the HTTP exchange, parsing);
* `wire:<host>`: urllib3's HTTPConnectionPool.urlopen, the HTTP exchange alone, for both;
* `secrets`: SecretsClient._fetch, a GetSecretValue through the extension (none when warm:
  the in-process cache answers);
* `argon2`: PasswordHasher.verify, the deliberate cost of a password check.

Right after each measured invocation, every backend call it made is *replayed* once, without
podgate in between, to measure its round trip on its own and back to back with the call it
stands for (so a slow moment of the machine hits both): RunPod calls with a plain
requests.Session and the same method, URL, headers and body; DynamoDB calls with the same
boto3 client and parameters. Reads are replayed verbatim; writes against scratch keys (and,
for RunPod, scratch pods the config provides or the replay creates), so replays never touch
the records or pods the handler owns.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import statistics
import sys
import time
import uuid
from functools import wraps

ENABLED = False
CALLS: list[tuple[str, str, int, dict | None]] = []  # kind, op, ns, replay spec
_POD_IN_PATH = re.compile(r"/pods/[^/?]+")


def _op_label(method: str, url: str) -> str:
    path = url.split("://", 1)[-1]
    path = path[path.find("/") :] if "/" in path else "/"
    return f"{method.upper()} {_POD_IN_PATH.sub('/pods/{id}', path)}"


def _record(kind: str, op: str, started: int, spec: dict | None) -> None:
    if ENABLED:
        CALLS.append((kind, op, time.perf_counter_ns() - started, spec))


def install_hooks() -> list[str]:
    """Wrap the entry points of the libraries the handler has loaded; import none of them."""
    hooked = []
    requests = sys.modules.get("requests")
    if requests is not None:
        original_request = requests.Session.request

        @wraps(original_request)
        def request(self, method, url, *args, **kwargs):
            started = time.perf_counter_ns()
            try:
                return original_request(self, method, url, *args, **kwargs)
            finally:
                spec = {"method": method, "url": url, "json": kwargs.get("json"), "headers": kwargs.get("headers")}
                _record("runpod", _op_label(method, url), started, spec)

        requests.Session.request = request
        hooked.append("requests")
    botocore_client = sys.modules.get("botocore.client")
    if botocore_client is not None:
        original_call = botocore_client.BaseClient._make_api_call

        @wraps(original_call)
        def make_api_call(self, operation_name, api_params):
            started = time.perf_counter_ns()
            try:
                return original_call(self, operation_name, api_params)
            finally:
                service = self.meta.service_model.service_name
                spec = {"client": self, "op": operation_name, "params": api_params}
                _record(service, operation_name, started, spec)

        botocore_client.BaseClient._make_api_call = make_api_call
        hooked.append("botocore")
    hooked += _hook_urllib3() + _hook_argon2() + _hook_secrets()
    return hooked


def _hook_urllib3() -> list[str]:
    pool = sys.modules.get("urllib3.connectionpool")
    if pool is None:
        return []
    original_urlopen = pool.HTTPConnectionPool.urlopen

    @wraps(original_urlopen)
    def urlopen(self, method, url, *args, **kwargs):
        started = time.perf_counter_ns()
        try:
            return original_urlopen(self, method, url, *args, **kwargs)
        finally:
            _record(f"wire:{self.host}:{self.port}", method, started, None)

    pool.HTTPConnectionPool.urlopen = urlopen
    return ["urllib3"]


def _hook_argon2() -> list[str]:
    argon2 = sys.modules.get("argon2")
    if argon2 is None:
        return []
    original_verify = argon2.PasswordHasher.verify

    @wraps(original_verify)
    def verify(self, hash, password):
        started = time.perf_counter_ns()
        try:
            return original_verify(self, hash, password)
        finally:
            _record("argon2", "verify", started, {"hasher": self, "hash": hash, "password": password})

    argon2.PasswordHasher.verify = verify
    return ["argon2"]


def _hook_secrets() -> list[str]:
    secrets_module = sys.modules.get("podgate.clients.secrets")
    if secrets_module is None:
        return []
    original_fetch = secrets_module.SecretsClient._fetch

    @wraps(original_fetch)
    def fetch(self, secret_id):
        started = time.perf_counter_ns()
        try:
            return original_fetch(self, secret_id)
        finally:
            _record("secrets", "GetSecretValue", started, {"client": self, "secret_id": secret_id})

    secrets_module.SecretsClient._fetch = fetch
    return ["secrets"]


class Context:
    def __init__(self, function_name: str, memory_mb: str, timeout_s: int) -> None:
        self.aws_request_id = str(uuid.uuid4())
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"
        self.identity = None
        self.client_context = None
        self._deadline_ms = int(time.time() * 1000) + timeout_s * 1000

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


def _status(reply) -> int | None:
    return reply.get("statusCode") if isinstance(reply, dict) else None


def invoke_all(handler, cfg: dict, replayer: Replayer | None = None) -> dict:
    global ENABLED
    events = cfg["events"]
    name, memory, timeout = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "bench"), cfg["memory"], cfg["timeout"]
    per_call, backends, replays, statuses, errors, outputs = [], [], [], {}, [], []
    last_calls: list = []
    for i in range(cfg["warmup"] + cfg["iterations"]):
        event = events[i % len(events)]
        context = Context(name, memory, timeout)
        measured = i >= cfg["warmup"]
        ENABLED = measured
        CALLS.clear()
        started = time.perf_counter_ns()
        try:
            reply, error = handler(event, context), None
        except Exception as exc:  # the authorizer answers a refusal by raising
            reply, error = None, f"{type(exc).__name__}: {exc}"
        elapsed = time.perf_counter_ns() - started
        ENABLED = False
        status = _status(reply)
        if error or (status is not None and status >= 400):
            errors.append(error or f"{status}: {str(reply.get('body'))[:200]}")
        if cfg.get("collect_pod_ids") and status == 200:
            outputs.append(json.loads(reply["body"])["pod_id"])
        if not measured:
            continue
        statuses[str(status)] = statuses.get(str(status), 0) + 1
        per_call.append(elapsed)
        by_kind: dict[str, int] = {}
        for kind, _op, ns, _spec in CALLS:
            by_kind[kind] = by_kind.get(kind, 0) + ns
        backends.append(by_kind)
        last_calls = list(CALLS)
        if replayer is not None:
            replays.append(replayer.replay(last_calls))
    return {
        "per_call_ns": per_call,
        "backend_ns": backends,
        "replay_ns": replays,
        "statuses": statuses,
        "errors": len(errors),
        "error_sample": errors[:3],
        "pod_ids": outputs,
        "calls": [{"kind": k, "op": op} for k, op, _ns, _spec in last_calls if not k.startswith("wire:")],
    }


# -- replay ---------------------------------------------------------------------------------


class Replayer:
    """Each backend call again, alone; writes go to scratch keys and scratch pods."""

    def __init__(self, cfg: dict) -> None:
        self.scratch_pods: list[str] = list(cfg.get("scratch_pods") or [])
        self.created_pods: list[str] = []
        self.used_pods: list[str] = []
        self.samples: dict[tuple[int, str, str], list[int]] = {}
        self._session = None
        self._keys: dict[str, list[tuple[str, str]]] = {}
        self._scratch_items: list[tuple[object, str, dict]] = []
        self._handlers = {"runpod": self.runpod, "dynamodb": self.dynamodb, "argon2": self.argon2,
                          "secrets": self.secrets}

    def replay(self, calls: list) -> dict[str, int]:
        """Replay one invocation's backend calls once each; ns per kind."""
        by_kind: dict[str, int] = {}
        for index, (kind, op, _ns, spec) in enumerate(calls):
            replay = self._handlers.get(kind)
            ns = replay(op, spec) if replay else None
            if ns is None:
                continue
            by_kind[kind] = by_kind.get(kind, 0) + ns
            self.samples.setdefault((index, kind, op), []).append(ns)
        self._cleanup()
        return by_kind

    def report(self) -> list[dict]:
        out = []
        for (_index, kind, op), samples in sorted(self.samples.items()):
            samples.sort()
            out.append({
                "kind": kind,
                "op": op,
                "n": len(samples),
                "median_ns": statistics.median(samples),
                "p10_ns": samples[len(samples) // 10],
                "p90_ns": samples[(len(samples) * 9) // 10],
            })
        return out

    @staticmethod
    def _timed(fn) -> int:
        started = time.perf_counter_ns()
        fn()
        return time.perf_counter_ns() - started

    # RunPod: a plain requests.Session, same method, URL, headers and body.
    def runpod(self, op: str, spec: dict) -> int | None:
        import requests

        if self._session is None:
            self._session = requests.Session()
        method, url = spec["method"].upper(), spec["url"]
        if method == "DELETE" or (method == "POST" and "/action" in url):
            if not self.scratch_pods:
                return None
            pod = self.scratch_pods.pop()
            url = _POD_IN_PATH.sub(f"/pods/{pod}", url)
            if method == "POST":  # stopped, not gone: the delete replay can still use it
                self.used_pods.append(pod)
        started = time.perf_counter_ns()
        resp = self._session.request(method, url, json=spec["json"], headers=spec["headers"], timeout=10,
                                     allow_redirects=False)
        resp.content  # noqa: B018 - read the whole answer, as the client does
        elapsed = time.perf_counter_ns() - started
        if method == "POST" and url.rstrip("/").endswith("/pods") and 200 <= resp.status_code < 300:
            self.created_pods.append(resp.json()["id"])
        return elapsed

    # DynamoDB: the same client and parameters; writes get scratch keys.
    def dynamodb(self, op: str, spec: dict) -> int | None:
        client, params = spec["client"], spec["params"]
        if op not in ("GetItem", "Query", "Scan", "BatchGetItem"):
            params = self._scratch_params(client, op, params)
            if params is None:
                return None
        return self._timed(lambda: client._make_api_call(op, params))

    def _key_schema(self, client, table: str) -> list[tuple[str, str]]:
        if table not in self._keys:
            desc = client.describe_table(TableName=table)["Table"]
            types = {a["AttributeName"]: a["AttributeType"] for a in desc["AttributeDefinitions"]}
            self._keys[table] = [(k["AttributeName"], types[k["AttributeName"]]) for k in desc["KeySchema"]]
        return self._keys[table]

    def _scratch_key(self, client, table: str, *, existing: bool) -> dict:
        key = {}
        for name, typ in self._key_schema(client, table):
            key[name] = {typ: f"bench-scratch-{uuid.uuid4().hex}" if typ == "S" else str(uuid.uuid4().int % 10**9)}
        if existing:  # deletes and updates act on an item that exists, as the handler's do
            client.put_item(TableName=table, Item=key)
        self._scratch_items.append((client, table, key))
        return key

    def _scratch_params(self, client, op: str, params: dict) -> dict | None:
        p = dict(params)
        if op == "PutItem":
            p["Item"] = {**p["Item"], **self._scratch_key(client, p["TableName"], existing=False)}
        elif op in ("DeleteItem", "UpdateItem"):
            p["Key"] = self._scratch_key(client, p["TableName"], existing=True)
        elif op == "TransactWriteItems":
            items = []
            for item in p["TransactItems"]:
                ((action, body),) = item.items()
                body = dict(body)
                if "Item" in body:
                    body["Item"] = {**body["Item"], **self._scratch_key(client, body["TableName"], existing=False)}
                else:
                    body["Key"] = self._scratch_key(client, body["TableName"], existing=True)
                items.append({action: body})
            p["TransactItems"] = items
        else:
            return None
        return p

    def argon2(self, op: str, spec: dict) -> int:
        hasher, hashed, password = spec["hasher"], spec["hash"], spec["password"]

        def verify():
            # A mismatch costs the same as a match; only the time matters here.
            with contextlib.suppress(Exception):
                hasher.verify(hashed, password)

        return self._timed(verify)

    def secrets(self, op: str, spec: dict) -> int:
        client, secret_id = spec["client"], spec["secret_id"]
        return self._timed(lambda: client._fetch(secret_id))

    def _cleanup(self) -> None:
        for client, table, key in self._scratch_items:
            client.delete_item(TableName=table, Key=key)
        self._scratch_items.clear()


def main(argv: list[str]) -> None:
    with open(argv[1], encoding="utf-8") as fh:
        cfg = json.load(fh)
    stdlib = [p for p in sys.path if not p.rstrip("/").endswith("site-packages")]
    sys.path[:] = [cfg["task_root"], cfg["layer"], cfg["runtime"], *stdlib]
    import importlib

    module_name, _, attr = cfg["handler"].rpartition(".")
    started = time.perf_counter()
    handler = getattr(importlib.import_module(module_name), attr)
    import_ms = (time.perf_counter() - started) * 1000
    # The first invocation loads what the handler defers; the hooks go in once it has.
    first = invoke_all(handler, {**cfg, "iterations": 0, "warmup": 1})
    cfg = {**cfg, "events": cfg["events"][1:] or cfg["events"], "warmup": max(0, cfg["warmup"] - 1)}
    hooked = install_hooks()
    replayer = Replayer(cfg) if cfg["replay"] else None
    result = invoke_all(handler, cfg, replayer)
    result.update(
        pod_ids=first["pod_ids"] + result["pod_ids"],
        import_ms=import_ms,
        hooked=hooked,
        replay=replayer.report() if replayer else [],
        scratch_created=replayer.created_pods if replayer else [],
        scratch_used=replayer.used_pods if replayer else [],
        scratch_left=replayer.scratch_pods if replayer else [],
    )
    with open(argv[2], "w", encoding="utf-8") as fh:
        json.dump(result, fh)


if __name__ == "__main__":
    main(sys.argv)
