"""The local stack's command line, what `make dev` and `make invoke` run.

python -m podgate_local dev
    The whole API on http://127.0.0.1:$PODGATE_PORT (default 3000) until Ctrl-C or SIGTERM.

python -m podgate_local invoke <FunctionLogicalId> <event.json | ->
    The Docker-free `sam local invoke`: one invocation in a fresh container, against the
    stack `dev` is running (found through .podgate/local.env) or else a throwaway one.
    The response goes to stdout, the function's logs to stderr; exit status 1 when the
    function failed.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import shlex
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from podgate_local.stack import ENV_FILE, LocalStack
from podgate_local.template import TEMPLATE_PATH, load_stack
from podgate_local.worker import Invocation, invoke_function, stderr_sink

DEFAULT_PORT = 3000
# events/README.md: a throwaway stack seeds the admin that events/auth.json logs in as.
EVENTS_ADMIN_PASSWORD = "podgate-local-admin"  # noqa: S105 - a documented local-only default
PASS_THROUGH = (  # what a function needs from a running stack's env file
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
    "RUNPOD_API_URL",
)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m podgate_local", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    dev = sub.add_parser("dev", help="serve the API locally until Ctrl-C")
    dev.add_argument("--env-vars", type=Path, help="per-function overrides, as `sam local --env-vars` takes")
    invoke = sub.add_parser("invoke", help="invoke one function with an event, like `sam local invoke`")
    invoke.add_argument("function", help="logical id in template.yaml, e.g. HealthFunction")
    invoke.add_argument("event", help="event JSON file, or - for stdin")
    invoke.add_argument("--env-vars", type=Path, help="per-function overrides, as `sam local --env-vars` takes")
    args = parser.parse_args(argv)
    env_vars = json.loads(args.env_vars.read_text()) if args.env_vars else None
    if args.command == "dev":
        return _dev(env_vars)
    return _invoke(args.function, args.event, env_vars)


# -- dev -------------------------------------------------------------------------------------


def _dev(env_vars: dict[str, Any] | None) -> int:
    port = int(os.environ.get("PODGATE_PORT") or DEFAULT_PORT)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stack = LocalStack(port=port, write_env_file=True, log_sink=stderr_sink, access_log=stderr_sink, env_vars=env_vars)
    try:
        stack.start()
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(f"port {port} is in use: stop whatever holds it, or set PODGATE_PORT", file=sys.stderr)
            return 1
        raise
    except ValueError as exc:  # the admin password policy (podgate.services.passwords)
        print(f"cannot seed the first admin: {exc} (PODGATE_ADMIN_PASSWORD)", file=sys.stderr)
        return 1
    try:
        print(_banner(stack), flush=True)
        stop.wait()
        print("\nstopping the local stack...", file=sys.stderr)
    finally:
        stack.stop()
    return 0


def _banner(stack: LocalStack) -> str:
    url = stack.url
    width = max(len(r.path) for r in stack.stack.routes)
    routes = "\n".join(
        f"    {r.method:<7}{r.path:<{width + 2}}{r.function}" + ("" if r.authorizer else "   (no auth)")
        for r in stack.stack.routes
    )
    if stack.runpod is not None:
        runpod = f"{stack.runpod.url}   (emulator; set RUNPOD_API_KEY for a real account)"
    else:
        runpod = f"{stack.stack.parameters.get('RunPodApiUrl')}   (the real RunPod account of RUNPOD_API_KEY)"
    resources = ", ".join([*stack.tables.values(), *stack.secrets.values()])
    source = "generated, shown once" if stack.admin_password_generated else "from PODGATE_ADMIN_USERNAME/PASSWORD"
    login = shlex.quote(
        json.dumps({"username": stack.admin_username, "password": stack.admin_password}, separators=(",", ":"))
    )
    auth = f'curl -s -X POST {url}/auth -H "Content-Type: application/json" -d {login}'
    bearer = '-H "Authorization: Bearer $JWT_TOKEN"'
    json_body = '-H "Content-Type: application/json"'
    pod = """'{"pod_id":"<pod_id from create>"}'"""
    create = """'{"name":"my-pod","image":"my-image","gpu_type":"nvidia-t4"}'"""
    env_file = os.path.relpath(stack.env_file) if stack.env_file else "-"
    extract = "python3 -c 'import json,sys; print(json.load(sys.stdin)[\"access_token\"])'"
    return f"""
podgate local stack is up (stage "{stack.stack.stage}", from {os.path.relpath(stack.template)})

  API               {url}   (also under the stage: {stack.stage_url})
  API docs          {url}/docs   (Swagger UI; the document is GET {url}/openapi.json)
  AWS (moto)        {stack.aws_endpoint}   {resources}
  Secrets extension 127.0.0.1:{stack.env["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"]}
  RunPod            {runpod}
  Env file          {env_file}   (for `make admin ARGS='--local ...'` and `make invoke`)

  Routes:
{routes}

  First admin:      {stack.admin_username} / {stack.admin_password}   ({source})

Try it: the API document's curl session, against this stack.

  # 0. Log in, then keep the token:
  {auth}
  export JWT_TOKEN=<access_token from the response>
  # ...or both in one line:
  export JWT_TOKEN=$({auth} | {extract})

  # 1. Health
  curl {url}/health
  # 2. List pods
  curl {bearer} {url}/pods
  # 3. Create a pod
  curl -X POST {url}/pods {bearer} {json_body} -d {create}
  # 4. Stop it
  curl -X POST {url}/pods/stop {bearer} {json_body} -d {pod}
  # 5. Delete it
  curl -X DELETE {url}/pods {bearer} {json_body} -d {pod}

Function logs follow. Ctrl-C stops everything.
"""


# -- invoke ----------------------------------------------------------------------------------


def _invoke(function_id: str, event_path: str, env_vars: dict[str, Any] | None) -> int:
    stack = load_stack(TEMPLATE_PATH)
    if function_id not in stack.functions:
        print(
            f"no function {function_id!r} in template.yaml; there are: {', '.join(stack.functions)}",
            file=sys.stderr,
        )
        return 2
    event = json.load(sys.stdin) if event_path == "-" else json.loads(Path(event_path).read_text())
    live = _running_stack_env(TEMPLATE_PATH.parent / ENV_FILE)
    if live is not None:
        print(f"[invoke] using the running local stack ({live['AWS_ENDPOINT_URL']})", file=sys.stderr)
        inv = invoke_function(stack, function_id, event, live, env_vars=env_vars, log_sink=stderr_sink)
    else:
        print("[invoke] no running local stack: starting a throwaway one", file=sys.stderr)
        with LocalStack(
            port=None, admin_password=EVENTS_ADMIN_PASSWORD, log_sink=stderr_sink, env_vars=env_vars
        ) as throwaway:
            inv = throwaway.invoke(function_id, event)
    return _report(inv)


def _report(inv: Invocation) -> int:
    print(json.dumps(inv.payload, indent=2))
    return 1 if inv.error else 0


def _running_stack_env(path: Path) -> dict[str, str] | None:
    """The endpoint variables of the stack `dev` runs, or None if it is not running."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return None
    values = dict(line.split("=", 1) for line in lines if "=" in line and not line.startswith("#"))
    try:
        os.kill(int(values["PODGATE_LOCAL_PID"]), 0)
    except (KeyError, ValueError, ProcessLookupError, PermissionError):
        return None  # left behind by a stack that did not stop cleanly
    endpoints = [
        values.get("AWS_ENDPOINT_URL", ""),
        f"http://127.0.0.1:{values.get('PARAMETERS_SECRETS_EXTENSION_HTTP_PORT', '')}",
    ]
    for endpoint in endpoints:
        parts = urlsplit(endpoint)
        try:
            socket.create_connection((parts.hostname or "", parts.port or 0), timeout=0.5).close()
        except (OSError, ValueError):
            return None
    return {k: values[k] for k in PASS_THROUGH if values.get(k)}


if __name__ == "__main__":
    sys.exit(main())
