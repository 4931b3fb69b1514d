#!/usr/bin/env python3
"""`make test-sam`: the real SAM CLI, in Docker, on template.yaml, against the local emulators.

    make test-sam                      # or: .venv/bin/python tests/sam/run_sam_local.py
    .venv/bin/python tests/sam/run_sam_local.py --no-invoke --serve   # start-api for curl, Ctrl-C

1. Runs ../shared/tools/sam-local-setup.sh (Docker engine, the local Lambda base image; skips
   with a message, exit 0, where the script or root is missing) on the SAM CLI venv that
   `make build` uses (tools/sam.sh), so one pinned SAM CLI does everything.
2. `sam build` for x86_64 (this machine) into .aws-sam/test-sam/build, never .aws-sam/build
   (an x86_64 layer must not end up in a deploy), and checks the layer (tools/check_layer.py).
3. Starts the local stack's emulators without its gateway (moto with the template's tables and
   secrets, the RunPod emulator, the secrets-extension emulator, the seeded admin), bound to the
   Docker bridge's host address so that the containers reach them.
4. `sam local invoke <Function> -e events/<fixture>.json` for every fixture, with the function and
   the expected status from events/README.md (a fixture missing there is invoked on the function
   its name starts with and must merely not fail).
5. `sam local start-api --warm-containers EAGER` and the README's curl session through it with
   the TOKEN authorizer evaluated: login, health, list, create, stop, delete, no token -> 401,
   a forged token -> 401.
6. Stops everything it started, prints a summary table, exits 1 on any failure.

Three things differ from a plain `sam local` run, each because SAM CLI 1.170 leaves no other way
(docs/DEPLOY-LOCAL-SAM.md has the details):

* `--docker-network host` is a no-op in SAM CLI 1.170 (containers stay on the default bridge),
  so the emulators listen on the bridge's host address, not 127.0.0.1.
* The functions reach the secrets extension at 127.0.0.1 (in Lambda it runs in their sandbox):
  `--invoke-image` runs them on the setup script's base image plus an in-sandbox forwarder to
  the extension emulator (tests/sam/image).
* SAM passes `--env-vars` only for variables the template declares, and AWS_ENDPOINT_URL is not
  one (deployed functions use the regional endpoints): the invocations use a copy of the built
  template, beside it, that declares AWS_ENDPOINT_URL in Globals. Nothing else changes.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import platform
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SETUP_SCRIPT = Path(os.environ.get("SAM_LOCAL_SETUP") or ROOT.parent / "shared" / "tools" / "sam-local-setup.sh")
SAM_VENV = Path(os.environ.get("SAM_VENV") or ROOT / ".venv-sam")
SAM_CLI_VERSION = os.environ.get("SAM_CLI_VERSION", "1.170.0")
PYTHON_VERSION = "3.13"
ARCH = "x86_64"
WORK = ROOT / ".aws-sam" / "test-sam"
BUILD_DIR = WORK / "build"
LOCAL_TEMPLATE = BUILD_DIR / "template.sam-local.yaml"  # beside template.yaml: same relative CodeUris
BASE_IMAGE = f"public.ecr.aws/lambda/python:{PYTHON_VERSION}-{ARCH}"
INVOKE_IMAGE = f"podgate-sam-local/python:{PYTHON_VERSION}-{ARCH}"
ADMIN_PASSWORD = "podgate-local-admin"  # what events/auth.json sends (events/README.md)
INVOKE_TIMEOUT = 180
START_API_TIMEOUT = 300

sys.path[:0] = [str(ROOT / "local"), str(ROOT / "layers" / "podgate")]


# -- results ---------------------------------------------------------------------------------


@dataclass
class Row:
    stage: str
    name: str
    ok: bool | None  # None: skipped / informational
    seconds: float
    detail: str = ""


@dataclass
class Report:
    rows: list[Row] = field(default_factory=list)

    def add(self, stage: str, name: str, ok: bool | None, seconds: float, detail: str = "") -> Row:
        row = Row(stage, name, ok, seconds, detail)
        self.rows.append(row)
        mark = {True: "ok  ", False: "FAIL", None: "info"}[ok]
        print(f"[test-sam] {mark} {stage:<9} {name:<34} {seconds:7.2f}s  {detail}", flush=True)
        return row

    @property
    def failed(self) -> list[Row]:
        return [r for r in self.rows if r.ok is False]

    def table(self) -> str:
        widths = [
            max(len(h), *(len(v) for v in col))
            for h, col in zip(
                ("stage", "step", "result", "time"),
                zip(*((r.stage, r.name, self._mark(r), f"{r.seconds:.2f}s") for r in self.rows), strict=True),
                strict=True,
            )
        ]
        lines = []
        header = ("stage", "step", "result", "time", "detail")
        w0, w1, w2, w3 = widths
        fmt = f"| {{:<{w0}}} | {{:<{w1}}} | {{:<{w2}}} | {{:>{w3}}} | {{}} |"
        lines.append(fmt.format(*header))
        lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|---|")
        for r in self.rows:
            lines.append(fmt.format(r.stage, r.name, self._mark(r), f"{r.seconds:.2f}s", r.detail.replace("|", "/")))
        passed = sum(1 for r in self.rows if r.ok is True)
        lines.append("")
        lines.append(f"test-sam: {passed} passed, {len(self.failed)} failed")
        return "\n".join(lines)

    @staticmethod
    def _mark(r: Row) -> str:
        return {True: "ok", False: "FAIL", None: "-"}[r.ok]


@contextlib.contextmanager
def timer() -> Iterator[list[float]]:
    box = [0.0]
    t0 = time.monotonic()
    try:
        yield box
    finally:
        box[0] = time.monotonic() - t0


def run(cmd: list[str], *, env: dict[str, str] | None = None, log: Path | None = None, timeout: float = 900,
        cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(  # noqa: S603 - our own commands
        cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    if log is not None:
        log.parent.mkdir(parents=True, exist_ok=True)
        log.write_text(
            f"$ {' '.join(cmd)}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}\n--- rc {proc.returncode}\n"
        )
    return proc


def tail(text: str, n: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-n:])


# -- environment ------------------------------------------------------------------------------


def skip_reason() -> str | None:
    if not SETUP_SCRIPT.is_file():
        return f"{SETUP_SCRIPT} not found (set SAM_LOCAL_SETUP=/path/to/sam-local-setup.sh)"
    if os.geteuid() != 0:
        return "sam-local-setup.sh needs root (it installs and starts dockerd)"
    if platform.machine() != "x86_64":
        return f"sam-local-setup.sh supports x86_64 only, this is {platform.machine()}"
    return None


def sam_environment() -> dict[str, str]:
    """os.environ plus what sam-local-setup.sh's env file exports, minus what must not leak in."""
    env_file = SAM_VENV / "bin" / "sam-local-env.sh"
    out = subprocess.run(  # noqa: S603
        ["bash", "-c", f'. "{env_file}" && env -0'],  # noqa: S607
        capture_output=True, check=True, env=dict(os.environ),
    ).stdout.decode()
    env = dict(item.split("=", 1) for item in out.split("\0") if "=" in item)
    env.pop("PYTHONPATH", None)  # the dev venv's, set by the Makefile; not for SAM's interpreter
    for key in list(env):
        if key.startswith("AWS_ENDPOINT_URL") and key != "AWS_ENDPOINT_URL_STS":
            env.pop(key)  # SAM itself must never talk to the local endpoint (or AWS)
    env.pop("AWS_PROFILE", None)
    env.update(
        {
            "SAM_CLI_TELEMETRY": "0",
            "SAM_SKIP_PULL_IMAGE": "1",
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_REGION": "us-east-1",
        }
    )
    return env


def bridge_host_address() -> str:
    """The host's address on Docker's default bridge (docker0): the containers' default gateway."""
    name = subprocess.run(
        ["docker", "network", "inspect", "bridge", "--format",  # noqa: S607
         '{{index .Options "com.docker.network.bridge.name"}}'],
        capture_output=True, text=True, check=True,
    ).stdout.strip() or "docker0"
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        packed = fcntl.ioctl(sock.fileno(), 0x8915, struct.pack("256s", name[:15].encode()))  # SIOCGIFADDR
    return socket.inet_ntoa(packed[20:24])


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


# -- fixtures ---------------------------------------------------------------------------------


@dataclass
class Case:
    fixture: str
    function: str
    status: int | None = None  # expected statusCode
    error: str | None = None  # expected errorMessage (authorizer denials)
    source: str = "events/README.md"


def readme_table() -> list[tuple[list[str], str, str]]:
    rows = []
    for line in (ROOT / "events" / "README.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`"):
            rows.append((re.findall(r"`([^`]+\.json)`", cells[0]), cells[1].strip("` "), cells[2]))
    return rows


def cases(function_dirs: dict[str, str]) -> list[Case]:
    """Every events/*.json with its function: events/README.md's table first; a fixture it does not
    list goes to the function whose code folder its name starts with (longest match)."""
    fixtures = sorted(p.name for p in (ROOT / "events").glob("*.json"))
    out: list[Case] = []
    seen: set[str] = set()
    for patterns, function, expected in readme_table():
        status = re.match(r"\s*(\d{3})\b", expected)
        error = re.match(r"\s*error\s+`([^`]+)`", expected)
        for pattern in patterns:
            regex = re.compile("^" + re.escape(pattern).replace(r"\*", ".*") + "$")
            for name in fixtures:
                if regex.match(name) and name not in seen:
                    seen.add(name)
                    out.append(Case(name, function, int(status.group(1)) if status else None,
                                    error.group(1) if error else None))
    for name in fixtures:
        if name in seen:
            continue
        stem = name.removesuffix(".json")
        matches = [d for d in function_dirs if stem == d or stem.startswith(d + "_")]
        if matches:
            out.append(Case(name, function_dirs[max(matches, key=len)], source="not in events/README.md; by name"))
        else:
            out.append(Case(name, "", source="not in events/README.md and no function matches its name"))
    return out


def check_invocation(case: Case, stdout: str) -> tuple[bool, str]:
    lines = [ln for ln in stdout.strip().splitlines() if ln.strip().startswith("{")]
    if not lines:
        return False, "no JSON response on stdout"
    try:
        payload = json.loads(lines[-1])
    except ValueError:
        return False, f"unparsable response: {lines[-1][:120]}"
    if case.error is not None:
        got = payload.get("errorMessage")
        return got == case.error, f"errorMessage {got!r}" + ("" if got == case.error else f", expected {case.error!r}")
    if "errorMessage" in payload:
        return False, f"{payload.get('errorType')}: {payload.get('errorMessage')}"[:160]
    status = payload.get("statusCode")
    body = str(payload.get("body", ""))[:70] if "statusCode" in payload else json.dumps(payload)[:70]
    if case.status is not None:
        return status == case.status, f"{status} (expected {case.status}) {body}"
    ok = status is None or int(status) < 500
    return ok, f"{status if status is not None else 'no statusCode'} {body}"


# -- the run ----------------------------------------------------------------------------------


class SamLocalRun:
    def __init__(self) -> None:
        self.report = Report()
        self.env: dict[str, str] = {}
        self.stack: Any = None
        self.containers: set[str] = set()
        self.api: subprocess.Popen[bytes] | None = None
        self.api_log: Path = WORK / "logs" / "start-api.log"

    # each step returns False to stop the run

    def setup(self) -> bool:
        with timer() as t:
            proc = run([str(ROOT / "tools" / "sam.sh"), "--version"], log=WORK / "logs" / "sam-cli.log")
        self.report.add("setup", "SAM CLI (tools/sam.sh)", proc.returncode == 0, t[0], proc.stdout.strip())
        if proc.returncode != 0:
            print(tail(proc.stderr))
            return False
        cmd = ["bash", str(SETUP_SCRIPT), "--python", PYTHON_VERSION, "--venv", str(SAM_VENV),
               "--sam-version", SAM_CLI_VERSION]
        with timer() as t:
            proc = run(cmd, log=WORK / "logs" / "sam-local-setup.log", timeout=1800)
        done = re.search(r"All done in (\d+)s", proc.stdout)
        self.report.add("setup", "sam-local-setup.sh", proc.returncode == 0, t[0],
                        done.group(0) if done else tail(proc.stderr, 3))
        if proc.returncode != 0:
            print(tail(proc.stdout + proc.stderr, 30))
            return False
        self.env = sam_environment()
        return True

    def build(self) -> bool:
        env = {**os.environ, "PODGATE_ARCHITECTURE": ARCH}
        cmd = [str(ROOT / "tools" / "sam.sh"), "build", "--no-cached", "--build-dir", str(BUILD_DIR),
               "--parameter-overrides", f"Architecture={ARCH}"]
        with timer() as t:
            proc = run(cmd, env=env, log=WORK / "logs" / "sam-build.log")
        self.report.add("build", f"sam build ({ARCH})", proc.returncode == 0, t[0],
                        "Build Succeeded" if proc.returncode == 0 else tail(proc.stdout + proc.stderr, 3))
        if proc.returncode != 0:
            print(tail(proc.stdout + proc.stderr, 30))
            return False
        with timer() as t:
            proc = run([sys.executable, str(ROOT / "tools" / "check_layer.py"), "--build-dir", str(BUILD_DIR),
                        "--architecture", ARCH])
        summary = next((ln for ln in proc.stdout.splitlines() if "layer:" in ln), "").replace("check_layer: ", "")
        self.report.add("build", "tools/check_layer.py", proc.returncode == 0, t[0], summary or tail(proc.stderr, 2))
        with timer() as t:
            proc = run(["docker", "build", "-q", "--build-arg", f"BASE={BASE_IMAGE}", "-t", INVOKE_IMAGE,
                        str(ROOT / "tests" / "sam" / "image")], log=WORK / "logs" / "invoke-image.log")
        self.report.add("build", "invoke image (tests/sam/image)", proc.returncode == 0, t[0], INVOKE_IMAGE)
        return proc.returncode == 0 and self.report.rows[-2].ok is True

    def start_stack(self) -> bool:
        from podgate_local.stack import LocalStack

        with timer() as t:
            host = bridge_host_address()
            self.stack = LocalStack(
                host=host,
                port=None,  # no gateway: `sam local start-api` is the gateway here
                environ={"PODGATE_ADMIN_PASSWORD": ADMIN_PASSWORD},
            ).start()
        self.report.add("stack", "emulators (no gateway)", True, t[0],
                        f"AWS {self.stack.aws_endpoint}, RunPod {self.stack.runpod_api_url}, "
                        f"extension :{self.stack.env['PARAMETERS_SECRETS_EXTENSION_HTTP_PORT']}")
        self._write_local_template()
        self._write_env_vars()
        # SAM hands its own credentials to the containers: the extension emulator authenticates
        # callers by this session token, as the real extension does.
        self.env["AWS_SESSION_TOKEN"] = self.stack.env["AWS_SESSION_TOKEN"]
        return True

    def _write_local_template(self) -> None:
        import yaml

        template = yaml.safe_load((BUILD_DIR / "template.yaml").read_text())
        fn_globals = template.setdefault("Globals", {}).setdefault("Function", {})
        variables = fn_globals.setdefault("Environment", {}).setdefault("Variables", {})
        variables["AWS_ENDPOINT_URL"] = ""  # declared only, so that --env-vars may set it
        LOCAL_TEMPLATE.write_text(
            "# Written by tests/sam/run_sam_local.py: template.yaml beside it, plus AWS_ENDPOINT_URL\n"
            "# declared in Globals (SAM only overrides declared variables). For `make test-sam` only.\n"
            + yaml.safe_dump(template, sort_keys=False)
        )

    def _write_env_vars(self) -> None:
        """SAM's --env-vars: the endpoints for every function, and per function the names the local
        stack gave the tables and secrets (SAM would resolve `!Ref UsersTable` to "UsersTable")."""
        names = set(self.stack.tables.values()) | set(self.stack.secrets.values())
        env_vars: dict[str, dict[str, str]] = {
            "Parameters": {
                key: self.stack.env[key]
                for key in ("AWS_ENDPOINT_URL", "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "RUNPOD_API_URL")
                if key in self.stack.env
            }
        }
        for logical, fn in self.stack.stack.functions.items():
            env_vars[logical] = {k: v for k, v in fn.environment.items() if v in names}
        (WORK / "env-vars.json").write_text(json.dumps(env_vars, indent=2) + "\n")

    def sam_local_args(self) -> list[str]:
        return [
            "-t", str(LOCAL_TEMPLATE),
            "--env-vars", str(WORK / "env-vars.json"),
            # The extension's ARN layer can't be downloaded; the forwarder in the image stands in.
            "--parameter-overrides", f'SecretsExtensionLayerArn="" Architecture={ARCH}',
            "--invoke-image", INVOKE_IMAGE,
            "--skip-pull-image",
        ]

    def sam(self) -> str:
        return str(SAM_VENV / "bin" / "sam")

    def _note_containers(self, text: str) -> None:
        self.containers.update(re.findall(r"SAM_CONTAINER_ID: ([0-9a-f]{12,64})", text))

    def invoke_fixtures(self) -> None:
        function_dirs = {fn.code_uri.name: logical for logical, fn in self.stack.stack.functions.items()}
        all_cases = cases(function_dirs)
        uncovered = sorted(set(self.stack.stack.functions) - {c.function for c in all_cases})
        if uncovered:
            self.report.add("invoke", "functions without a fixture", None, 0.0, ", ".join(uncovered))
        for case in all_cases:
            if not case.function:
                self.report.add("invoke", case.fixture, False, 0.0, case.source)
                continue
            cmd = [self.sam(), "local", "invoke", case.function, "-e", str(ROOT / "events" / case.fixture),
                   *self.sam_local_args()]
            log = WORK / "logs" / "invoke" / f"{case.fixture.removesuffix('.json')}.log"
            with timer() as t:
                try:
                    proc = run(cmd, env=self.env, log=log, timeout=INVOKE_TIMEOUT)
                except subprocess.TimeoutExpired:
                    self.report.add("invoke", f"{case.fixture} -> {case.function}", False, t[0] or INVOKE_TIMEOUT,
                                    f"timed out after {INVOKE_TIMEOUT} s")
                    continue
            self._note_containers(proc.stderr)
            ok, detail = check_invocation(case, proc.stdout)
            if proc.returncode != 0 and ok:
                ok, detail = False, f"sam exited {proc.returncode}: {tail(proc.stderr, 1)}"
            if case.source != "events/README.md":
                detail = f"{detail} [{case.source}]"
            self.report.add("invoke", f"{case.fixture} -> {case.function}", ok, t[0], detail)
            if not ok:
                print(tail(proc.stderr, 15))

    def start_api(self) -> str | None:
        port = free_port()
        cmd = [self.sam(), "local", "start-api", *self.sam_local_args(), "--warm-containers", "EAGER",
               "--host", "127.0.0.1", "--port", str(port)]
        self.api_log.parent.mkdir(parents=True, exist_ok=True)
        import requests

        with timer() as t, open(self.api_log, "wb") as log:
            self.api = subprocess.Popen(  # noqa: S603
                cmd, cwd=ROOT, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + START_API_TIMEOUT
            ready = False
            while time.monotonic() < deadline and self.api.poll() is None:
                try:
                    requests.get(f"{url}/__ready__", timeout=2)
                    ready = True
                    break
                except requests.RequestException:
                    time.sleep(0.5)
        self.report.add("start-api", "start (--warm-containers EAGER)", ready, t[0],
                        url if ready else f"not serving; see {self.api_log.relative_to(ROOT)}")
        return url if ready else None

    def session(self, url: str) -> None:
        import requests

        def call(name: str, method: str, path: str, expect: int | tuple[int, ...], token: str | None = None,
                 body: dict[str, Any] | None = None, note: str = "") -> dict[str, Any] | None:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            with timer() as t:
                try:
                    resp = requests.request(method, f"{url}{path}", headers=headers, json=body, timeout=60)
                except requests.RequestException as exc:
                    self.report.add("start-api", name, False, 0.0, f"{method} {path}: {exc}")
                    return None
            try:
                data = resp.json()
            except ValueError:
                data = {"_text": resp.text[:80]}
            ok = resp.status_code in (expect if isinstance(expect, tuple) else (expect,))
            self.report.add("start-api", name, ok, t[0],
                            f"{method} {path} -> {resp.status_code} {json.dumps(data)[:80]}{note}")
            return data if ok else None

        login = call("login (POST /auth)", "POST", "/auth", 200,
                     body={"username": self.stack.admin_username, "password": self.stack.admin_password})
        token = (login or {}).get("access_token")
        call("health (GET /health)", "GET", "/health", 200)
        if not token:
            self.report.add("start-api", "session", False, 0.0, "no token from /auth: the rest needs one")
            return
        call("list (GET /pods)", "GET", "/pods", 200, token)
        created = call("create (POST /pods)", "POST", "/pods", 200, token,
                       {"name": "my-pod", "image": "my-image", "gpu_type": "nvidia-t4"})
        pod_id = (created or {}).get("pod_id")
        if pod_id:
            listing = call("list shows it (GET /pods)", "GET", "/pods", 200, token) or {}
            if pod_id not in listing.get("pods", []):
                self.report.add("start-api", "list shows it", False, 0.0, f"{pod_id} not in {listing}")
            call("stop (POST /pods/stop)", "POST", "/pods/stop", 200, token, {"pod_id": pod_id})
            call("delete (DELETE /pods)", "DELETE", "/pods", 200, token, {"pod_id": pod_id})
        call("no token -> 401 (GET /pods)", "GET", "/pods", 401)
        # A well-formed token with a wrong signature passes the ValidationExpression, so the
        # authorizer runs and raises "Unauthorized": API Gateway answers 401. SAM CLI 1.170 has no
        # such special case and answers 502 ("invalid or missing 'principalId'"), without calling
        # the route's function either; the log must show the authorizer's denial.
        forged = token.rsplit(".", 1)[0] + ".c2lnbmF0dXJlLWZyb20tc29tZW9uZS1lbHNl"
        log_before = len(self.api_log.read_bytes())
        denied = call("forged token -> denied (GET /pods)", "GET", "/pods", (401, 502), forged,
                      note=" (API Gateway: 401; SAM local renders the authorizer's Unauthorized as 502)")
        if denied is not None:
            time.sleep(0.5)  # the log is written by another process
            log = self.api_log.read_bytes()[log_before:].decode(errors="replace")
            raised = "AuthorizerFunction" in log and "Exception: Unauthorized" in log
            self.report.add("start-api", "forged token: authorizer raised", raised, 0.0,
                            "Unauthorized in the authorizer's log" if raised else "no authorizer denial in the log")

    def stop_api(self) -> None:
        if self.api is None:
            return
        with timer() as t:
            if self.api.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.api.pid, signal.SIGINT)  # SAM stops its warm containers on SIGINT
                try:
                    self.api.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(self.api.pid, signal.SIGKILL)
                    self.api.wait()
        self._note_containers(self.api_log.read_text(errors="replace"))
        self.report.add("stop", "sam local start-api", None, t[0], f"exit {self.api.returncode}")
        self.api = None

    def cleanup(self) -> None:
        self.stop_api()
        if self.containers and shutil.which("docker"):
            left = run(["docker", "ps", "-aq", "--no-trunc"]).stdout.split()
            ours = [c for c in left if any(c.startswith(mine) for mine in self.containers)]
            if ours:
                run(["docker", "rm", "-f", *ours])
                self.report.add("stop", "leftover SAM containers", None, 0.0, f"removed {len(ours)}")
        if self.stack is not None:
            with timer() as t:
                self.stack.stop()
            self.report.add("stop", "emulators", None, t[0])
            self.stack = None


def serve(url: str, stack: Any) -> None:
    """--serve: keep start-api and the emulators up for a person with curl, until Ctrl-C."""
    print(f"""
sam local start-api is serving {url} (the functions in Docker, the emulators on {stack.host}).
  curl -X POST {url}/auth -H "Content-Type: application/json" \\
    -d '{{"username":"{stack.admin_username}","password":"{stack.admin_password}"}}'
  export JWT_TOKEN=<access_token>; curl -H "Authorization: Bearer $JWT_TOKEN" {url}/pods
Ctrl-C stops it.""", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--no-invoke", action="store_true", help="skip the `sam local invoke` of every fixture")
    ap.add_argument("--serve", action="store_true", help="after the session, keep start-api up until Ctrl-C")
    args = ap.parse_args(argv)
    reason = skip_reason()
    if reason:
        print(f"test-sam: SKIPPED: {reason}")
        return 0
    WORK.mkdir(parents=True, exist_ok=True)
    (WORK / ".gitignore").write_text("*\n")
    shutil.rmtree(WORK / "logs", ignore_errors=True)
    sam_run = SamLocalRun()
    t0 = time.monotonic()
    try:
        if sam_run.setup() and sam_run.build() and sam_run.start_stack():
            if not args.no_invoke:
                sam_run.invoke_fixtures()
            url = sam_run.start_api()
            if url:
                sam_run.session(url)
                if args.serve:
                    serve(url, sam_run.stack)
    except KeyboardInterrupt:
        sam_run.report.add("run", "interrupted", False, 0.0)
    finally:
        sam_run.cleanup()
    table = sam_run.report.table()
    summary = f"{table}\ntotal {time.monotonic() - t0:.0f} s; logs in {(WORK / 'logs').relative_to(ROOT)}/"
    (WORK / "summary.md").write_text(summary + "\n")
    print()
    print(summary)
    return 1 if sam_run.report.failed or not sam_run.report.rows else 0


if __name__ == "__main__":
    sys.exit(main())
