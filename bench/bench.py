"""podgate's performance benchmark: cold starts, warm overhead, the local stack, the layer.

    make bench                           # the full run (about 3 to 4 minutes)
    make bench ARGS='--quick'            # fewer runs, shorter load: a smoke test, not figures
    make bench ARGS='--runs 25 --duration 20'

A script, not a test: it prints a table and writes bench/results.json, and it asserts
nothing (it exits non-zero only when it could not measure). docs/PERFORMANCE.md explains
every figure.

What it does, in one run so that every ratio compares numbers from the same machine state:

1. Builds the layer as `sam build` does (layers/podgate/Makefile, wheels for this machine's
   architecture, no .pyc) and, separately, the packages the Lambda runtime ships (boto3,
   botocore, at the versions requirements-dev.txt pins) into a directory of their own.
2. Starts the local stack (LocalStack: moto, the RunPod emulator, the secrets-extension
   emulator, the local API Gateway) and seeds a few pods.
3. Cold starts: for each function a fresh `python3.13 -I -B` process (bench/_cold.py) with
   sys.path = [function code, built layer, runtime packages, stdlib] and the function's own
   template environment plus the stack's endpoints, so module-level code talks to the
   emulators. Timed from spawn to exit, N runs interleaved with the baselines (a bare
   interpreter, `import boto3`, boto3 plus one client), both "init" (import the handler) and
   "init + first invocation" (then one call with its fixture).
4. Warm invocations: one process per function (bench/_warm.py) invokes its handler many
   times with its fixture and measures the RunPod and DynamoDB round trips separately.
5. The local stack: authenticated GET /pods from a bounded number of concurrent clients for a
   fixed time (bench/_load.py), and how many of those requests the authorizer cache answers.
6. The layer: size unzipped and zipped, and its largest packages.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import importlib.util
import json
import marshal
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if importlib.util.find_spec("podgate_local") is None:  # run without the Makefile's PYTHONPATH
    sys.path[:0] = [str(ROOT / "layers" / "podgate"), str(ROOT / "local")]

import requests  # noqa: E402

from podgate_local.stack import LocalStack  # noqa: E402
from podgate_local.worker import lambda_environment  # noqa: E402

BENCH = ROOT / "bench"
EVENTS = ROOT / "events"
DEFAULT_RESULTS = BENCH / "results.json"
COLD = BENCH / "_cold.py"
WARM = BENCH / "_warm.py"
LOAD = BENCH / "_load.py"

ADMIN_PASSWORD = "podgate-local-admin"  # noqa: S105 - events/auth.json logs in with it (events/README.md)
# The figure for a FastAPI + Mangum monolith on the runpod SDK (not measured here).
MONOLITH_INIT_S = 3.0
# Targets (issue "Performance: cold starts near the interpreter floor").
HEALTH_MAX_X_BARE = 2.0
AUTHORIZER_MAX_X_BARE = 4.0
MAX_SHARE_OF_MONOLITH = 0.2
WARM_OVERHEAD_MAX_MS = 1.0
STACK_P50_MAX_MS = 5.0
LAYER_MAX_BYTES = 10 * 1000 * 1000
FORBIDDEN_IN_FAST_PATHS = ("boto3", "requests", "cryptography")
RUNTIME_SHIPS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")

# Fixture per function (by CodeUri folder). Others get an event built from their route.
FIXTURES = {
    "health": "health.json",
    "auth": "auth.json",
    "list_pods": "list_pods.json",
    "create_pod": "create_pod.json",
    "stop_pod": "stop_pod_unknown.json",  # pod_id replaced by a real pod
    "delete_pod": "delete_pod_unknown.json",  # pod_id replaced by a real pod
    "reconcile": "reconcile.json",
    "authorizer": "authorizer_garbage_token.json",  # token replaced by a real one
}
NEEDS_POD = ("stop_pod", "delete_pod")
# Invoked in this order, so that create hands its pods to stop, and stop to delete, and the
# reconciler never sees the replay's scratch pods (which have no ownership record).
ORDER = ("health", "openapi", "authorizer", "auth", "list_pods", "reconcile", "create_pod", "stop_pod", "delete_pod")


@dataclass
class Config:
    runs: int = 15
    first_runs: int = 10
    warm_iterations: int = 200
    warm_warmup: int = 20
    auth_iterations: int = 30
    replay: bool = True
    clients: int = 4
    duration: float = 10.0
    load_warmup: float = 3.0
    single_duration: float = 4.0
    probe_tokens: int = 10
    seed_pods: int = 5
    out: Path = DEFAULT_RESULTS
    work_dir: Path | None = None
    python: str = ""


def say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Statistics
# --------------------------------------------------------------------------------------------


def pct(values: list[float], q: float) -> float:
    """The q-th percentile, linear between closest ranks (q in 0..100)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def summary(values: list[float]) -> dict[str, float]:
    if not values:
        return {"n": 0}
    return {
        "n": len(values),
        "median": statistics.median(values),
        "p10": pct(values, 10),
        "p90": pct(values, 90),
        "min": min(values),
        "max": max(values),
    }


# --------------------------------------------------------------------------------------------
# Machine, interpreter, builds
# --------------------------------------------------------------------------------------------


def target_python() -> str:
    """The interpreter Lambda's python3.13 stands for: PYTHON_BOOT, else the venv's base."""
    for candidate in (os.environ.get("PYTHON_BOOT"), getattr(sys, "_base_executable", None), sys.executable):
        if candidate and Path(candidate).exists():
            out = subprocess.run(  # noqa: S603 - our own interpreter
                [candidate, "-I", "-c", "import sys; print(sys.version_info[:2] == (3, 13))"],
                capture_output=True,
                text=True,
                check=False,
            )
            if out.stdout.strip() == "True":
                return str(Path(candidate).resolve())
    raise SystemExit("bench: no python3.13 found (set PYTHON_BOOT)")


def machine(python: str) -> dict[str, Any]:
    cpu = next(
        (line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
         if line.startswith("model name")),
        platform.processor() or "unknown",
    )
    mem_kb = next(
        (int(line.split()[1]) for line in Path("/proc/meminfo").read_text().splitlines()
         if line.startswith("MemTotal")),
        0,
    )
    version = subprocess.run(  # noqa: S603
        [python, "-I", "-c", "import sys; print(sys.version.split()[0])"], capture_output=True, text=True, check=True
    ).stdout.strip()
    rev = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return {
        "cpu_model": cpu,
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "arch": platform.machine(),
        "kernel": platform.release(),
        "python": version,
        "python_path": python,
        "git": rev + ("+uncommitted changes" if dirty else ""),
        "loadavg_start": [round(x, 2) for x in os.getloadavg()],
    }


def lambda_arch() -> str:
    return {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONDONTWRITEBYTECODE")}


def _quiet(argv: list[str], env: dict[str, str]) -> None:
    """Run a build step; its chatter (pip's warnings) only when it fails."""
    proc = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)  # noqa: S603
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-3000:] + proc.stderr[-3000:])
        raise SystemExit(f"bench: {' '.join(argv[:6])} ... failed ({proc.returncode})")


def build_layer(work: Path, python: str) -> Path:
    """The layer exactly as `sam build` makes it (template.yaml: BuildMethod makefile)."""
    artifacts = work / "layer"
    _quiet(
        [  # make from PATH, as `sam build` runs it
            "make", "--no-print-directory", "-s", "-C", str(ROOT / "layers" / "podgate"), "build-PodgateLayer",
            f"ARTIFACTS_DIR={artifacts}", f"PODGATE_ARCHITECTURE={lambda_arch()}",
            # The target interpreter, whatever the Makefile calls it; and first on PATH too.
            f"PYTHON={python}", f"LAYER_PYTHON={python}",
        ],
        {**_clean_env(), "PATH": f"{Path(python).parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    return artifacts


def pins() -> dict[str, str]:
    found = {}
    for line in (ROOT / "requirements-dev.txt").read_text().splitlines():
        name, sep, version = line.strip().partition("==")
        if sep:
            found[name.lower()] = version
    return found


def build_runtime(work: Path, python: str) -> tuple[Path, dict[str, str]]:
    """What the Lambda runtime ships and podgate relies on (boto3, botocore and their own
    dependencies), at the pinned versions, in a folder of its own (Lambda's /var/runtime)."""
    target = work / "runtime"
    pinned = pins()
    wanted = [f"{n}=={pinned[n]}" for n in RUNTIME_SHIPS if n in pinned]
    _quiet(
        [python, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--no-input",
         "--target", str(target), *wanted],
        _clean_env(),
    )
    return target, {n: pinned[n] for n in RUNTIME_SHIPS if n in pinned}


# --------------------------------------------------------------------------------------------
# The layer
# --------------------------------------------------------------------------------------------


def _tree_bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def layer_report(artifacts: Path, work: Path) -> dict[str, Any]:
    python_dir = artifacts / "python"
    files = [f for f in artifacts.rglob("*") if f.is_file()]
    unzipped = sum(f.stat().st_size for f in files)
    zip_path = work / "layer.zip"
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for f in sorted(files):
            zf.write(f, f.relative_to(artifacts).as_posix())
    by_package: dict[str, int] = {}
    owned: set[Path] = set()
    for record in python_dir.glob("*.dist-info/RECORD"):
        name = record.parent.name.split("-")[0].replace("_", "-").lower()
        total = 0
        for line in record.read_text().splitlines():
            rel = line.split(",", 1)[0]
            p = (python_dir / rel).resolve()
            if p.is_file() and p not in owned:
                owned.add(p)
                total += p.stat().st_size
        by_package[name] = total
    # What no RECORD lists: podgate itself (copied from source), and anything else.
    for f in files:
        if f.resolve() not in owned:
            rel = f.relative_to(python_dir).parts if python_dir in f.parents else ("(outside python/)",)
            key = "podgate (source)" if rel[0] == "podgate" else rel[0]
            by_package[key] = by_package.get(key, 0) + f.stat().st_size
    bundled_runtime = sorted(n for n in by_package if n in RUNTIME_SHIPS)
    top = sorted(by_package.items(), key=lambda kv: kv[1], reverse=True)
    pyc = sum(1 for f in files if f.suffix == ".pyc")
    return {
        "unzipped_bytes": unzipped,
        "zipped_bytes": zip_path.stat().st_size,
        "files": len(files),
        "pyc_files": pyc,
        "packages": dict(top),
        "top10": top[:10],
        "boto3_botocore_bundled": [n for n in ("boto3", "botocore", "s3transfer") if n in by_package],
        "also_shipped_by_runtime": bundled_runtime,
        "unzipped_bytes_without_runtime_duplicates": unzipped - sum(by_package[n] for n in bundled_runtime),
    }


# --------------------------------------------------------------------------------------------
# Processes
# --------------------------------------------------------------------------------------------


def spawn(argv: list[str], env: dict[str, str]) -> tuple[float, float, int, str]:
    """Run to completion; (wall ms from spawn to exit, CPU ms of the child, exit status, output)."""
    r, w = os.pipe()
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        started = time.perf_counter()
        pid = os.posix_spawn(
            argv[0],
            argv,
            env,
            file_actions=[
                (os.POSIX_SPAWN_DUP2, devnull, 0),
                (os.POSIX_SPAWN_DUP2, w, 1),
                (os.POSIX_SPAWN_DUP2, w, 2),
                (os.POSIX_SPAWN_CLOSE, r),
            ],
        )
        os.close(w)
        w = -1
        chunks = []
        while chunk := os.read(r, 65536):
            chunks.append(chunk)
        _, status, usage = os.wait4(pid, 0)
        wall = (time.perf_counter() - started) * 1000
    finally:
        for fd in (r, w, devnull):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
    cpu = (usage.ru_utime + usage.ru_stime) * 1000
    return wall, cpu, os.waitstatus_to_exitcode(status), b"".join(chunks).decode("utf-8", "replace")


def parse_child(output: str) -> dict[str, Any] | None:
    for line in reversed(output.splitlines()):
        if line.startswith("@@bench "):
            return ast.literal_eval(line[len("@@bench ") :])
    return None


# --------------------------------------------------------------------------------------------
# The stack and the functions
# --------------------------------------------------------------------------------------------


@dataclass
class Fn:
    name: str  # CodeUri folder: health, auth, ...
    logical_id: str
    handler: str
    task_root: Path
    env: dict[str, str]
    memory: int
    timeout: int
    event: dict[str, Any] | None



def route_event(stack: LocalStack, logical_id: str) -> dict[str, Any] | None:
    """An event for a function without a fixture: its first route without path parameters."""
    for route in stack.stack.routes:
        if route.function == logical_id and "{" not in route.path:
            base = json.loads((EVENTS / ("list_pods.json" if route.authorizer else "health.json")).read_text())
            base.update(resource=route.path, path=route.path, httpMethod=route.method)
            base["requestContext"].update(resourcePath=route.path, httpMethod=route.method,
                                          path=f"/{stack.stack.stage}{route.path}")
            return base
    return None


def functions(stack: LocalStack, work: Path, admin_token: str) -> list[Fn]:
    out = []
    for logical_id, fn in stack.stack.functions.items():
        name = Path(fn.code_uri).name
        task_root = work / "task" / name
        shutil.copytree(fn.code_uri, task_root, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        env = lambda_environment(stack.stack, fn, stack.env)
        env["LAMBDA_TASK_ROOT"] = str(task_root)
        fixture = FIXTURES.get(name)
        event = json.loads((EVENTS / fixture).read_text()) if fixture else route_event(stack, logical_id)
        if name == "authorizer" and event is not None:
            api = stack.gateway.api_id if stack.gateway else "podgateapi"
            event["authorizationToken"] = f"Bearer {admin_token}"
            event["methodArn"] = f"arn:aws:execute-api:{stack.region}:000000000000:{api}/{stack.stack.stage}/GET/pods"
        out.append(Fn(name, logical_id, fn.handler, task_root, env, fn.memory_mb, fn.timeout, event))
    rank = {n: i for i, n in enumerate(ORDER)}
    return sorted(out, key=lambda f: rank.get(f.name, len(ORDER)))


def with_pod(event: dict[str, Any], pod_id: str) -> dict[str, Any]:
    ev = json.loads(json.dumps(event))
    ev["body"] = json.dumps({"pod_id": pod_id})
    return ev


def login(stack: LocalStack, username: str, password: str) -> str:
    resp = requests.post(f"{stack.url}/auth", json={"username": username, "password": password}, timeout=35)
    if resp.status_code != 200:
        raise RuntimeError(f"login of {username} failed: {resp.status_code} {resp.text[:200]}")
    return resp.json()["access_token"]


def api(stack: LocalStack, token: str, method: str, path: str, **kw: Any) -> requests.Response:
    return requests.request(method, stack.url + path, headers={"Authorization": f"Bearer {token}"}, timeout=35, **kw)


def create_pods(stack: LocalStack, token: str, n: int) -> list[str]:
    ids = []
    for i in range(n):
        body = {"name": f"bench-{i}", "image": "bench", "gpu_type": "nvidia-t4"}
        resp = api(stack, token, "POST", "/pods", json=body)
        if resp.status_code != 200:
            raise RuntimeError(f"seeding a pod failed: {resp.status_code} {resp.text[:200]}")
        ids.append(resp.json()["pod_id"])
    return ids


# --------------------------------------------------------------------------------------------
# 1. Cold starts
# --------------------------------------------------------------------------------------------


class Cold:
    def __init__(self, cfg: Config, layer: Path, runtime: Path, fns: list[Fn], work: Path) -> None:
        self.cfg, self.layer, self.runtime, self.fns, self.work = cfg, layer, runtime, fns, work
        self.samples: dict[str, list[dict[str, Any]]] = {}
        self.failures: list[str] = []
        base = next((f for f in fns if any(k.endswith("_TABLE") for k in f.env)), fns[0])
        self.base_env = base.env
        # The baselines run as a function without podgate would: no layer on sys.path (the
        # layer's own urllib3 would otherwise shadow the runtime's for boto3).
        self.empty = work / "empty"
        self.empty.mkdir(exist_ok=True)

    def _argv(self, mode: str, fn: Fn | None = None, event_file: Path | None = None) -> list[str]:
        task_root, layer = (fn.task_root, self.layer) if fn else (self.empty, self.empty)
        argv = [self.cfg.python, "-I", "-B", str(COLD), mode, str(task_root), str(layer), str(self.runtime)]
        if fn is not None:
            argv.append(fn.handler)
        if event_file is not None:
            argv.append(str(event_file))
        return argv

    def _run(self, key: str, argv: list[str], env: dict[str, str]) -> dict[str, Any] | None:
        wall, cpu, code, output = spawn(argv, env)
        child = parse_child(output) if argv[-1] != "pass" else {}
        if code != 0 or child is None:
            self.failures.append(f"{key}: exit {code}: {output[-600:]}")
            return None
        sample = {"wall_ms": wall, "cpu_ms": cpu, **child}
        self.samples.setdefault(key, []).append(sample)
        return sample

    def _event_file(self, fn: Fn, pod_id: str | None) -> Path:
        event = with_pod(fn.event, pod_id) if (pod_id and fn.name in NEEDS_POD) else fn.event
        path = self.work / "events" / f"{fn.name}.marshal"
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(marshal.dumps(event))
        return path

    def round(self, with_first: bool) -> None:
        env = self.base_env
        self._run("bare", [self.cfg.python, "-I", "-B", "-c", "pass"], env)
        self._run("floor", self._argv("pass"), env)
        for mode in ("boto3", "boto3+dynamodb", "boto3+secretsmanager"):
            self._run(mode, self._argv(mode), env)
        pod_id = None
        for fn in self.fns:
            self._run(f"init:{fn.name}", self._argv("init", fn), fn.env)
            if fn.event is None or not with_first:
                continue
            sample = self._run(f"first:{fn.name}", self._argv("first", fn, self._event_file(fn, pod_id)), fn.env)
            if fn.name == "create_pod" and sample and sample.get("status") == 200:
                pod_id = json.loads(sample["body"])["pod_id"]

    def run(self) -> dict[str, Any]:
        for i in range(self.cfg.runs):
            started = time.monotonic()
            self.round(with_first=i < self.cfg.first_runs)
            say(f"cold starts: round {i + 1}/{self.cfg.runs} in {time.monotonic() - started:.1f} s")
        return self.report()

    def report(self) -> dict[str, Any]:
        out: dict[str, Any] = {"runs": self.cfg.runs, "first_runs": min(self.cfg.runs, self.cfg.first_runs),
                               "failures": self.failures[:10], "candidates": {}}
        for key, samples in self.samples.items():
            entry: dict[str, Any] = {
                "wall_ms": summary([s["wall_ms"] for s in samples]),
                "cpu_ms": summary([s["cpu_ms"] for s in samples]),
            }
            if "import_ms" in samples[0]:
                entry["import_ms"] = summary([s["import_ms"] for s in samples])
                entry["init_modules"] = samples[-1].get("init_modules")
            if "first_ms" in samples[0]:
                entry["first_call_ms"] = summary([s["first_ms"] for s in samples])
                entry["first_modules"] = samples[-1].get("first_modules")
                entry["statuses"] = sorted({str(s.get("status") or s.get("error")) for s in samples})
            entry["samples"] = [
                {k: (round(v, 3) if isinstance(v, float) else v) for k, v in s.items() if k != "body"} for s in samples
            ]
            out["candidates"][key] = entry
        return out


# --------------------------------------------------------------------------------------------
# 2. Warm invocations
# --------------------------------------------------------------------------------------------


class Warm:
    def __init__(self, cfg: Config, layer: Path, runtime: Path, fns: list[Fn], work: Path) -> None:
        self.cfg, self.layer, self.runtime, self.fns, self.work = cfg, layer, runtime, fns, work
        self.results: dict[str, Any] = {}
        self.leftover_pods: list[str] = []

    def _events(self, fn: Fn, pods: list[str], count: int) -> list[dict[str, Any]]:
        if fn.name in NEEDS_POD:
            if len(pods) < count:
                raise RuntimeError(f"{fn.name}: {len(pods)} pods for {count} invocations")
            return [with_pod(fn.event, p) for p in pods[:count]]
        return [fn.event]

    def run_one(self, fn: Fn, pods: list[str], scratch: list[str]) -> dict[str, Any]:
        auth_like = fn.name == "auth"
        iterations = self.cfg.auth_iterations if auth_like else self.cfg.warm_iterations
        warmup = max(2, self.cfg.warm_warmup // 5) if auth_like else self.cfg.warm_warmup
        cfg = {
            "task_root": str(fn.task_root),
            "layer": str(self.layer),
            "runtime": str(self.runtime),
            "handler": fn.handler,
            "events": self._events(fn, pods, warmup + iterations),
            "warmup": warmup,
            "iterations": iterations,
            "memory": str(fn.memory),
            "timeout": fn.timeout,
            "replay": self.cfg.replay,
            "collect_pod_ids": fn.name == "create_pod",
            "scratch_pods": scratch,
        }
        cfg_path, out_path = self.work / f"warm-{fn.name}.json", self.work / f"warm-{fn.name}.out.json"
        cfg_path.write_text(json.dumps(cfg))
        log_path = self.work / f"warm-{fn.name}.log"
        with open(log_path, "wb") as log:
            proc = subprocess.run(  # noqa: S603
                [self.cfg.python, "-I", "-B", str(WARM), str(cfg_path), str(out_path)],
                env=fn.env,
                cwd=fn.task_root,
                stdout=log,
                stderr=subprocess.STDOUT,
                timeout=600,
                check=False,
            )
        if proc.returncode != 0 or not out_path.exists():
            tail = log_path.read_text(errors="replace")[-1500:]
            raise RuntimeError(f"warm {fn.name} failed (exit {proc.returncode}):\n{tail}")
        raw = json.loads(out_path.read_text())
        raw["log_lines"] = log_path.read_bytes().count(b"\n")
        return raw

    def run(self) -> dict[str, Any]:
        created: list[str] = []
        scratch: list[str] = []
        for fn in self.fns:
            if fn.event is None:
                continue
            started = time.monotonic()
            raw = self.run_one(fn, created, scratch)
            if fn.name == "create_pod":
                created, scratch = raw["pod_ids"], raw["scratch_created"]
            elif fn.name == "stop_pod":
                scratch = raw["scratch_used"] + raw["scratch_left"]
            elif fn.name == "delete_pod":
                created, scratch = [], raw["scratch_left"]
            self.results[fn.name] = analyse_warm(raw)
            r = self.results[fn.name]
            say(f"warm {fn.name}: {r['per_call_ms']['median']:.2f} ms per call, overhead "
                f"{r['overhead_ms']:.2f} ms ({time.monotonic() - started:.1f} s)")
        self.leftover_pods = created + scratch
        return self.results


# What a call's round trips are: the calls as the client libraries make them (SDK level), or
# the HTTP exchanges alone (wire level: urllib3, under both requests and botocore).
SUBTRACTED = ("runpod", "dynamodb", "secrets", "argon2")
DELIBERATE = ("secrets", "argon2")


def _kind_medians(rows: list[dict[str, int]], kinds: list[str]) -> dict[str, float]:
    return {k: round(statistics.median([r.get(k, 0) / 1e6 for r in rows]), 4) for k in kinds}


def analyse_warm(raw: dict[str, Any]) -> dict[str, Any]:
    per_call = [ns / 1e6 for ns in raw["per_call_ns"]]
    backend = raw["backend_ns"]
    sdk = [sum(b.get(k, 0) for k in SUBTRACTED) / 1e6 for b in backend]
    wire = [sum(v for k, v in b.items() if k.startswith("wire:") or k in DELIBERATE) / 1e6 for b in backend]
    in_call = [t - b for t, b in zip(per_call, sdk, strict=True)]
    beyond_wire = [t - b for t, b in zip(per_call, wire, strict=True)]
    kinds = sorted({k for b in backend for k in b})
    result: dict[str, Any] = {
        "iterations": len(per_call),
        "per_call_ms": summary(per_call),
        "calls": [f"{c['kind']} {c['op']}" for c in raw["calls"]],
        "round_trips_in_call_ms": _kind_medians(backend, kinds),
        "overhead_in_call_ms": summary(in_call),
        "overhead_beyond_wire_ms": summary(beyond_wire),
        "statuses": raw["statuses"],
        "errors": raw["errors"],
        "error_sample": raw["error_sample"],
        "import_ms": raw["import_ms"],
        "log_lines": raw.get("log_lines"),
        "hooked": raw.get("hooked"),
        "per_call_samples_ms": [round(x, 4) for x in per_call],
    }
    replays = raw["replay_ns"]
    if replays:
        replay = [sum(r.values()) / 1e6 for r in replays]
        paired = [t - r for t, r in zip(per_call, replay, strict=True)]
        result.update(
            round_trips_replayed_ms=_kind_medians(replays, sorted({k for r in replays for k in r})),
            replay=[{"kind": c["kind"], "op": c["op"], "n": c["n"],
                     **{k.replace("_ns", "_ms"): c[k] / 1e6 for k in ("median_ns", "p10_ns", "p90_ns")}}
                    for c in raw["replay"]],
            not_replayed=sorted({c for c in result["calls"]} - {f"{c['kind']} {c['op']}" for c in raw["replay"]}),
            overhead_replayed_ms=summary(paired),
        )
    else:  # nothing to replay: the whole call is the function's own work
        result.update(round_trips_replayed_ms={}, replay=[], not_replayed=[], overhead_replayed_ms=summary(per_call))
    # The target's figure: each call minus the round trips it made itself, measured around the
    # client library calls in that same invocation (paired, so a slow moment cancels out).
    result["overhead_ms"] = result["overhead_in_call_ms"]["median"]
    return result


# --------------------------------------------------------------------------------------------
# 3. The local stack under load
# --------------------------------------------------------------------------------------------


def _durations(stack: LocalStack, logical_id: str) -> list[float]:
    """Handler durations from the REPORT lines the function's containers logged."""
    prefix = f"[{logical_id}] REPORT RequestId: "
    out = []
    for line in stack.logs:
        if line.startswith(prefix) and "\tDuration: " in line:
            out.append(float(line.split("\tDuration: ", 1)[1].split(" ms", 1)[0]))
    return out


def load_stack(cfg: Config, stack: LocalStack) -> dict[str, Any]:
    from podgate.admin import ensure_user

    users = [(f"bench-{i}-{os.urandom(3).hex()}", f"bench-password-{os.urandom(8).hex()}") for i in range(cfg.clients)]
    with stack.aws_environment():
        for username, password in users:
            ensure_user(stack.tables["UsersTable"], username, password, "user")
    tokens = [login(stack, u, p) for u, p in users]
    authorizers = stack.gateway.authorizers if stack.gateway else {}
    list_fn = next(r.function for r in stack.stack.routes if r.method == "GET" and r.path == "/pods")
    pool = stack.gateway.pools[list_fn] if stack.gateway else None

    def invocations() -> int:
        return sum(a.invocations for a in authorizers.values())

    before, containers_before = invocations(), pool.cold_starts if pool else 0
    pods = {t: create_pods(stack, t, 2) for t in tokens}
    # One client first: the stack's latency without contention (and without this machine's
    # cores shared by the clients, the gateway, moto, the emulator and the containers).
    stack.clear_logs()
    alone = run_load(cfg, ["load", stack.url, "/pods", "1", "1", str(cfg.single_duration), tokens[0]])
    alone_durations = _durations(stack, list_fn)
    stack.clear_logs()
    out = run_load(cfg, ["load", stack.url, "/pods", str(cfg.clients), str(cfg.load_warmup), str(cfg.duration),
                         *tokens])
    durations = _durations(stack, list_fn)
    for token, ids in pods.items():
        for pod_id in ids:
            api(stack, token, "DELETE", f"/pods/{pod_id}")
    during = invocations() - before
    requests_total = (len(out["latencies_ms"]) + out["warmup_requests"] + len(alone["latencies_ms"])
                      + alone["warmup_requests"] + 2 * 2 * len(tokens))
    fresh = [login(stack, *users[0]) for _ in range(cfg.probe_tokens)]
    before_probe = invocations()
    probe = run_load(cfg, ["probe", stack.url, "/pods", *fresh])
    probe_invocations = invocations() - before_probe
    lat = out["latencies_ms"]
    return {
        "clients": cfg.clients,
        "duration_s": cfg.duration,
        "warmup_s": cfg.load_warmup,
        "requests": len(lat),
        "rps": len(lat) / cfg.duration,
        "latency_ms": {**summary(lat), "p50": pct(lat, 50), "p99": pct(lat, 99)},
        "handler_duration_ms": {**summary(durations), "p50": pct(durations, 50), "p99": pct(durations, 99)},
        "statuses": out["statuses"],
        "single_client": {
            "duration_s": cfg.single_duration,
            "requests": len(alone["latencies_ms"]),
            "rps": len(alone["latencies_ms"]) / cfg.single_duration,
            "latency_ms": {**summary(alone["latencies_ms"]), "p50": pct(alone["latencies_ms"], 50),
                           "p99": pct(alone["latencies_ms"], 99)},
            "handler_duration_ms": {**summary(alone_durations), "p50": pct(alone_durations, 50)},
            "statuses": alone["statuses"],
        },
        "pods_per_user": 2,
        "containers_started": (pool.cold_starts if pool else 0) - containers_before,
        "authorizer": {
            "requests": requests_total,
            "invocations": during,
            "skipped_share": 1 - during / requests_total if requests_total else None,
            "tokens": len(tokens),
            "ttl_s": next((a.spec.ttl_seconds for a in authorizers.values()), None),
        },
        "uncached_vs_cached": {
            "uncached_ms": summary(probe["uncached_ms"]),
            "cached_ms": summary(probe["cached_ms"]),
            "statuses": probe["statuses"],
            "authorizer_invocations": probe_invocations,
        },
    }


def run_load(cfg: Config, args: list[str]) -> dict[str, Any]:
    proc = subprocess.run(  # noqa: S603
        [cfg.python, "-I", str(LOAD), *args],
        capture_output=True,
        text=True,
        timeout=cfg.duration + cfg.load_warmup + 120,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"load client failed: {proc.stderr[-1500:]}")
    return json.loads(proc.stdout)


# --------------------------------------------------------------------------------------------
# Targets and the table
# --------------------------------------------------------------------------------------------


def _med(cold: dict[str, Any], key: str, what: str = "wall_ms") -> float | None:
    c = cold["candidates"].get(key)
    return c[what]["median"] if c and c[what].get("n") else None


def _loaded(cold: dict[str, Any], key: str, field: str) -> set[str]:
    return set(cold["candidates"].get(key, {}).get(field) or [])


def targets(cold: dict[str, Any], warm: dict[str, Any], load: dict[str, Any], layer: dict[str, Any],
            fns: list[Fn]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    bare = _med(cold, "bare")

    def add(name: str, measured: str, limit: str, met: bool | None, note: str = "") -> None:
        rows.append({"target": name, "measured": measured, "limit": limit, "met": met, "note": note})

    for fn_name, limit in (("health", HEALTH_MAX_X_BARE), ("authorizer", AUTHORIZER_MAX_X_BARE)):
        init = _med(cold, f"init:{fn_name}")
        if init is not None and bare:
            add(f"{fn_name} init / bare interpreter", f"{init / bare:.2f}x ({init:.1f} / {bare:.1f} ms)",
                f"<= {limit:g}x", init / bare <= limit)
        at_init = _loaded(cold, f"init:{fn_name}", "init_modules")
        after = _loaded(cold, f"first:{fn_name}", "first_modules")
        bad_init = sorted(at_init & set(FORBIDDEN_IN_FAST_PATHS))
        bad_after = sorted(after & set(FORBIDDEN_IN_FAST_PATHS))
        note = "but botocore (boto3's core) is imported" if "botocore" in at_init | after else ""
        add(f"{fn_name} imports none of {', '.join(FORBIDDEN_IN_FAST_PATHS)}",
            f"init: {', '.join(bad_init) or 'none'}; +1st call: {', '.join(bad_after) or 'none'}",
            "none", not bad_init and not bad_after, note)
    ceiling = MONOLITH_INIT_S * 1000 * MAX_SHARE_OF_MONOLITH
    boto3_alone = _med(cold, "boto3")
    for fn in fns:
        init = _med(cold, f"init:{fn.name}")
        if init is None or boto3_alone is None:
            continue
        if "boto3" in _loaded(cold, f"first:{fn.name}", "first_modules"):  # it does talk to DynamoDB
            base = _med(cold, "boto3+dynamodb") or 0.0
            add(f"{fn.name} init vs import boto3 + DynamoDB client",
                f"{init:.0f} vs {base:.0f} ms ({init / base:.2f}x)", "below, unless it needs boto3", None,
                f"needs boto3 (DynamoDB): exempt; podgate's own {init - base:+.0f} ms")
        else:
            add(f"{fn.name} init vs import boto3",
                f"{init:.0f} vs {boto3_alone:.0f} ms ({init / boto3_alone:.2f}x)", "below", init < boto3_alone,
                "never loads boto3")
        first = _med(cold, f"first:{fn.name}")
        worst = max(init, first or 0)
        add(f"{fn.name} cold start vs monolith ({MONOLITH_INIT_S:g} s)",
            f"init {init:.0f} ms, +1st call {first:.0f} ms" if first else f"init {init:.0f} ms",
            f"<= {ceiling:.0f} ms (1/5)", worst <= ceiling, f"{worst / (MONOLITH_INIT_S * 1000):.2f} of it")
    for name, r in warm.items():
        add(f"{name} warm overhead beyond round trips", f"{r['overhead_ms']:.3f} ms",
            f"<= {WARM_OVERHEAD_MAX_MS:g} ms", r["overhead_ms"] <= WARM_OVERHEAD_MAX_MS,
            f"per call {r['per_call_ms']['median']:.2f}; replayed {r['overhead_replayed_ms']['median']:.2f}; "
            f"beyond wire {r['overhead_beyond_wire_ms']['median']:.2f}")
    if load:
        p50, alone = load["latency_ms"]["p50"], load["single_client"]["latency_ms"]["p50"]
        add("local stack GET /pods p50", f"{p50:.2f} ms (p99 {load['latency_ms']['p99']:.1f}, "
            f"{load['rps']:.0f} req/s)", f"<= {STACK_P50_MAX_MS:g} ms", p50 <= STACK_P50_MAX_MS,
            f"{load['clients']} clients, {load['duration_s']:g} s; in the handler "
            f"{load['handler_duration_ms']['p50']:.1f} ms; 1 client: {alone:.1f} ms")
    if layer:
        size = layer["unzipped_bytes"]
        zipped = layer["zipped_bytes"] / 1e6
        add("layer unzipped (boto3/botocore excluded)", f"{size / 1e6:.1f} MB (zip {zipped:.1f} MB)",
            f"<= {LAYER_MAX_BYTES / 1e6:g} MB", size <= LAYER_MAX_BYTES and not layer["boto3_botocore_bundled"])
    return rows


def _ms(s: dict[str, Any]) -> str:
    return f"{s['median']:7.1f} ({s['p10']:.0f}-{s['p90']:.0f})" if s.get("n") else "      -"


def print_tables(results: dict[str, Any]) -> None:
    cold, warm, load, layer = results["cold"], results["warm"], results["stack"], results["layer"]
    c = cold["candidates"]
    bare, boto = _med(cold, "bare"), _med(cold, "boto3")
    print(f"\nCold starts: whole process, spawn to exit, median (p10-p90) of {cold['runs']} runs "
          f"({cold['first_runs']} with the first invocation); ms")
    print(f"{'':24}{'init':>20}{'import':>9}{'CPU':>7}{'x bare':>8}{'x boto3':>8}"
          f"{'+1st call':>20}{'1st call':>9}  loaded at init")
    for key, e in c.items():
        if key.startswith("first:"):
            continue
        name = key.removeprefix("init:")
        first = c.get(f"first:{name}")
        wall = e["wall_ms"]["median"]
        print(f"{name:24}{_ms(e['wall_ms']):>20}"
              f"{e['import_ms']['median'] if 'import_ms' in e else 0:9.1f}{e['cpu_ms']['median']:7.0f}"
              f"{wall / bare:8.2f}{wall / boto:8.2f}"
              f"{_ms(first['wall_ms']) if first else '-':>20}"
              f"{first['first_call_ms']['median'] if first else 0:9.1f}  {','.join(e.get('init_modules') or [])}")
    print("\nWarm invocations: in-process, median per call (ms). Round trips as timed inside the call "
          "(client library calls), and replayed alone right after it")
    print(f"{'':14}{'per call':>10}{'RunPod':>8}{'DynamoDB':>9}{'other':>8}{'overhead':>10}"
          f"{'replayed':>10}{'>wire':>8}  backend calls (replayed RunPod / DynamoDB)")
    for name, r in warm.items():
        rt, rp = r["round_trips_in_call_ms"], r["round_trips_replayed_ms"]
        other = sum(v for k, v in rt.items() if k in DELIBERATE)
        print(f"{name:14}{r['per_call_ms']['median']:10.3f}{rt.get('runpod', 0):8.2f}{rt.get('dynamodb', 0):9.2f}"
              f"{other:8.2f}{r['overhead_ms']:10.3f}{r['overhead_replayed_ms']['median']:10.3f}"
              f"{r['overhead_beyond_wire_ms']['median']:8.3f}  {', '.join(r['calls']) or '-'}"
              + (f" ({rp.get('runpod', 0):.2f} / {rp.get('dynamodb', 0):.2f})" if rp else ""))
    if load:
        a = load["authorizer"]
        u = load["uncached_vs_cached"]
        print(f"\nLocal stack: GET /pods, {load['clients']} clients, {load['duration_s']:g} s: "
              f"p50 {load['latency_ms']['p50']:.2f} ms, p99 {load['latency_ms']['p99']:.2f} ms, "
              f"{load['rps']:.0f} req/s, statuses {load['statuses']}; inside the handler: p50 "
              f"{load['handler_duration_ms']['p50']:.2f} ms ({load['containers_started']} containers started)")
        one = load["single_client"]
        print(f"  one client alone, {one['duration_s']:g} s: p50 {one['latency_ms']['p50']:.2f} ms, p99 "
              f"{one['latency_ms']['p99']:.2f} ms, {one['rps']:.0f} req/s; inside the handler: p50 "
              f"{one['handler_duration_ms']['p50']:.2f} ms")
        print(f"  authorizer: {a['invocations']} invocations for {a['requests']} requests "
              f"({a['skipped_share']:.2%} answered from its cache, TTL {a['ttl_s']} s); first request with a new "
              f"token {u['uncached_ms']['median']:.1f} ms vs {u['cached_ms']['median']:.1f} ms cached")
    if layer:
        print(f"\nLayer: {layer['unzipped_bytes'] / 1e6:.2f} MB unzipped, {layer['zipped_bytes'] / 1e6:.2f} MB zipped, "
              f"{layer['files']} files ({layer['pyc_files']} .pyc); boto3/botocore bundled: "
              f"{layer['boto3_botocore_bundled'] or 'no'}; also shipped by the runtime: "
              f"{', '.join(layer['also_shipped_by_runtime']) or 'none'}")
        print("  largest: " + ", ".join(f"{n} {b / 1e6:.2f} MB" for n, b in layer["top10"]))
    print("\nTargets")
    for t in results["targets"]:
        mark = {True: "met", False: "NOT MET", None: "n/a"}[t["met"]]
        print(f"  {mark:8} {t['target']:52} {t['measured']:44} {t['limit']:28} {t['note']}")


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def run(cfg: Config) -> dict[str, Any]:
    began = time.monotonic()
    cfg.python = cfg.python or target_python()
    info = machine(cfg.python)
    say(f"{info['cpu_model']}, {info['nproc']} CPUs, Python {info['python']} ({cfg.python})")
    with contextlib.ExitStack() as cleanup:
        if cfg.work_dir:
            work = cfg.work_dir
            shutil.rmtree(work, ignore_errors=True)
            work.mkdir(parents=True)
        else:
            work = Path(cleanup.enter_context(tempfile.TemporaryDirectory(prefix="podgate-bench-")))
        say("building the layer (layers/podgate/Makefile) and the runtime's boto3")
        artifacts = build_layer(work, cfg.python)
        runtime, runtime_versions = build_runtime(work, cfg.python)
        layer = layer_report(artifacts, work)
        say("starting the local stack")
        stack = cleanup.enter_context(LocalStack(
            port=0,
            environ={},
            admin_password=ADMIN_PASSWORD,
            stack_name="podgate-bench",
            # The stage's 50 req/s per method is a policy, not a cost: out of the way here.
            parameter_overrides={"ThrottlingRateLimit": "100000", "ThrottlingBurstLimit": "100000"},
        ))
        if stack.runpod is None:
            raise SystemExit("bench: needs the RunPod emulator (unset RUNPOD_API_KEY)")
        stack.runpod.set_rate_limits({"minute": 10_000_000})
        admin_token = login(stack, stack.admin_username, ADMIN_PASSWORD)
        seeded = create_pods(stack, admin_token, cfg.seed_pods)
        fns = functions(stack, work, admin_token)
        say(f"functions: {', '.join(f.name for f in fns)}; cold starts, {cfg.runs} rounds")
        cold = Cold(cfg, artifacts / "python", runtime, fns, work).run()
        say("warm invocations")
        warm_runner = Warm(cfg, artifacts / "python", runtime, fns, work)
        warm = warm_runner.run()
        say(f"local stack: {cfg.clients} clients for {cfg.duration:g} s")
        load = load_stack(cfg, stack)
        for pod_id in seeded:
            api(stack, admin_token, "DELETE", f"/pods/{pod_id}")
        # Pods of a cold round whose stop/delete failed, if any: reported, then dropped.
        leftover = [p["id"] for p in stack.runpod.pods]
        stack.runpod.reset()
    info["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]
    results = {
        "generated": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "command": "make bench" + (f" ARGS='{' '.join(sys.argv[1:])}'" if sys.argv[1:] else ""),
        "machine": info,
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in cfg.__dict__.items()},
        "runtime_packages": runtime_versions,
        "monolith_init_s_from_issue": MONOLITH_INIT_S,
        "cold": cold,
        "warm": warm,
        "stack": load,
        "layer": layer,
        "leftover_pods": leftover,
        "elapsed_s": round(time.monotonic() - began, 1),
    }
    results["targets"] = targets(cold, warm, load, layer, fns)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15, help="cold starts per function and baseline (default 15)")
    parser.add_argument("--first-runs", type=int, default=10,
                        help="of those, rounds that also time init + first invocation (default 10)")
    parser.add_argument("--iterations", type=int, default=200, help="warm invocations per function (default 200)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients on the local stack (default 4)")
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of measured load (default 10)")
    parser.add_argument("--quick", action="store_true", help="5 runs, 50 iterations, 3 s of load: a smoke test")
    parser.add_argument("--out", type=Path, default=DEFAULT_RESULTS, help="results file (default bench/results.json)")
    parser.add_argument("--work-dir", type=Path, help="keep the built layer and logs here (default: a temp dir)")
    parser.add_argument("--python", default="", help="the python3.13 the functions run on (default: PYTHON_BOOT)")
    args = parser.parse_args(argv)
    cfg = Config(runs=args.runs, first_runs=args.first_runs, warm_iterations=args.iterations, clients=args.clients,
                 duration=args.duration, out=args.out, work_dir=args.work_dir, python=args.python)
    if args.quick:
        cfg.runs, cfg.first_runs, cfg.warm_iterations, cfg.warm_warmup, cfg.auth_iterations = 5, 5, 50, 10, 10
        cfg.probe_tokens = 4
        cfg.duration, cfg.load_warmup, cfg.single_duration = 3.0, 2.0, 2.0
    results = run(cfg)
    cfg.out.write_text(json.dumps(results, indent=1))
    print_tables(results)
    print(f"\nwrote {cfg.out.relative_to(ROOT) if cfg.out.is_relative_to(ROOT) else cfg.out} "
          f"({results['elapsed_s']:.0f} s; load average {results['machine']['loadavg_start']} -> "
          f"{results['machine']['loadavg_end']})")
    return 1 if results["cold"]["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
