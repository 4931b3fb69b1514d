"""One cold start, for bench/bench.py: a fresh interpreter that does what Lambda's init does.

    python3.13 -I -B bench/_cold.py MODE TASK_ROOT LAYER RUNTIME [HANDLER [EVENT_FILE]]

Standard library only: it runs before sys.path holds anything else. sys.path is set as
Lambda sets it for a zip function: the function's code (/var/task), the layer (/opt/python),
the runtime's own packages (/var/runtime: boto3, botocore), then the standard library. The
interpreter's site-packages are dropped, so nothing from the build machine can leak in. With
-B nothing is written, as on Lambda's read-only /opt and /var/task: modules without a .pyc
are compiled on every cold start, exactly as there.

MODE: `pass` (interpreter and this script only), `boto3`, `boto3+<service>` (import boto3
and build one client), `init` (import the handler module: its module-level initialisation),
`first` (init, then one invocation with EVENT_FILE, a marshal dump, and a Lambda-like context).

Prints one line, `@@bench <dict repr>`, last; a function's own log lines may come before it.
"""

import sys
import time

_T0 = time.perf_counter()

# Packages a cold start should not pay for unless it needs them (issue: health and the
# authorizer import none of boto3, requests, cryptography).
WATCHED = (
    "boto3",
    "botocore",
    "requests",
    "urllib3",
    "cryptography",
    "pydantic",
    "aws_lambda_powertools",
    "jwt",
    "argon2",
)


class Context:
    """The attributes awslambdaric's context has, as podgate_local's worker gives them."""

    def __init__(self, function_name, memory_mb, deadline_ms):
        self.aws_request_id = "00000000-0000-4000-8000-000000000001"
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory_mb
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:000000000000:function:{function_name}"
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "bench"
        self.identity = None
        self.client_context = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        return max(0, self._deadline_ms - int(time.time() * 1000))


def main(argv):
    mode, task_root, layer, runtime = argv[1:5]
    stdlib = [p for p in sys.path if not p.rstrip("/").endswith("site-packages")]
    sys.path[:] = [task_root, layer, runtime, *stdlib]
    result = {"mode": mode}
    t = time.perf_counter()
    handler = None
    if mode == "boto3" or mode.startswith("boto3+"):
        import boto3

        if "+" in mode:
            boto3.client(mode.split("+", 1)[1])
    elif mode in ("init", "first"):
        import importlib

        module_name, _, attr = argv[5].rpartition(".")
        handler = getattr(importlib.import_module(module_name), attr)
    elif mode != "pass":
        raise SystemExit(f"unknown mode {mode!r}")
    result["import_ms"] = (time.perf_counter() - t) * 1000
    result["init_modules"] = [m for m in WATCHED if m in sys.modules]
    if mode == "first":
        # marshal, not json: it is built in, so reading the event costs the function nothing
        # it would not pay on Lambda (whose runtime hands over the event already parsed).
        import marshal
        import os

        with open(argv[6], "rb") as fh:
            event = marshal.load(fh)  # noqa: S302 - written by bench.py a moment ago
        context = Context(
            os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "bench"),
            os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512"),
            int(time.time() * 1000) + 15_000,
        )
        t = time.perf_counter()
        try:
            reply = handler(event, context)
        except Exception as exc:  # the authorizer's "Unauthorized" and friends
            result["error"] = f"{type(exc).__name__}: {exc}"
            reply = None
        result["first_ms"] = (time.perf_counter() - t) * 1000
        result["status"] = reply.get("statusCode") if isinstance(reply, dict) else None
        if isinstance(reply, dict) and isinstance(reply.get("body"), str):
            result["body"] = reply["body"][:300]
        result["first_modules"] = [m for m in WATCHED if m in sys.modules]
    result["script_ms"] = (time.perf_counter() - _T0) * 1000
    result["modules"] = len(sys.modules)
    # repr, not json: importing json here would cost the bare baseline what it costs no one else.
    sys.stdout.flush()
    sys.stdout.write("@@bench " + repr(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main(sys.argv)
