"""Lambda's execution environment, without Docker: one process per warm container.

Two halves share this file because they share the wire protocol:

* The child runtime (`_serve`, run as ``python -I -B worker.py <ipc-fd> <t0> <task-root> <layer>...``)
  plays /var/runtime/bootstrap: it imports the handler once (the init phase), then answers one
  invocation at a time with a Lambda context, the runtime's root-logger format and its error
  objects. ``-I`` keeps the parent's PYTHONPATH, the script's folder and user site-packages out
  of ``sys.path``, so a function sees only its CodeUri (/var/task) and its layers (/opt/python)
  plus the venv's site-packages standing in for the layer's pip dependencies and the runtime's
  boto3. An import that works here but not in Lambda is therefore impossible by construction.
* The parent side (`FunctionPool`, `invoke_function`) starts those processes
  lazily, keeps them warm, grows the pool up to a concurrency limit, enforces the function's
  Timeout by killing the process (as Lambda discards a timed-out sandbox) and streams the
  function's stdout/stderr to a log sink line by line.

Invocations travel over a dedicated socketpair, never over stdout: a function's print() and
any library writing to fd 1 or 2 can only ever reach the logs. Frames are a 4-byte big-endian
length followed by UTF-8 JSON, which is also what Lambda's Invoke API accepts and returns.

The child must import only the standard library: it runs before sys.path holds anything else.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the child never imports the template module
    from podgate_local.template import Function, Stack

WORKER_SCRIPT = os.path.abspath(__file__)
ACCOUNT_ID = "000000000000"
# Lambda's limits that a local run must not silently exceed.
MAX_RESPONSE_BYTES = 6 * 1024 * 1024
INIT_TIMEOUT_SECONDS = 10.0

# --------------------------------------------------------------------------------------------
# Wire protocol (both sides)
# --------------------------------------------------------------------------------------------

_LENGTH = struct.Struct("!I")


class Channel:
    """Length-prefixed JSON frames over a stream socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def send(self, message: Any) -> None:
        self.send_raw(json.dumps(message, separators=(",", ":")).encode())

    def send_raw(self, data: bytes) -> None:
        self.sock.settimeout(None)
        self.sock.sendall(_LENGTH.pack(len(data)) + data)

    def recv(self, deadline: float | None = None) -> Any:
        """The next message. TimeoutError past `deadline` (monotonic), EOFError if the peer left."""
        (size,) = _LENGTH.unpack(self._read(_LENGTH.size, deadline))
        return json.loads(self._read(size, deadline))

    def _read(self, size: int, deadline: float | None) -> bytes:
        buf = bytearray(size)
        view = memoryview(buf)
        got = 0
        while got < size:
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError
                self.sock.settimeout(left)
            else:
                self.sock.settimeout(None)
            n = self.sock.recv_into(view[got:])
            if n == 0:
                raise EOFError
            got += n
        return bytes(buf)

    def close(self) -> None:
        self.sock.close()


def _error(error_type: str, message: str, request_id: str | None = None, stack: list[str] | None = None) -> dict:
    """An error object shaped like the Python runtime's (what Invoke returns with FunctionError)."""
    err: dict[str, Any] = {"errorMessage": message, "errorType": error_type}
    if request_id:
        err["requestId"] = request_id
    err["stackTrace"] = stack or []
    return err


# --------------------------------------------------------------------------------------------
# Child: the runtime inside one "container"
# --------------------------------------------------------------------------------------------


class LambdaContext:
    """The attributes and method awslambdaric's context has (memory_limit_in_mb is a str there too)."""

    class _Identity:
        cognito_identity_id = None
        cognito_identity_pool_id = None

    def __init__(self, request_id: str, deadline_ms: int, invoked_function_arn: str) -> None:
        self.aws_request_id = request_id
        self.invoked_function_arn = invoked_function_arn
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.identity = self._Identity()
        self.client_context = None
        self.tenant_id = None
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_ms - int(time.time() * 1000))


class _RequestIdFilter(logging.Filter):
    request_id = ""

    def filter(self, record: logging.LogRecord) -> bool:
        record.aws_request_id = self.request_id
        return True


def _setup_root_logger() -> _RequestIdFilter:
    # The runtime's own root handler: functions that use plain logging get Lambda's text format,
    # and (as in Lambda) the root level stays WARNING unless the function changes it.
    request_filter = _RequestIdFilter()
    handler = logging.StreamHandler(sys.stdout)
    formatter = logging.Formatter(
        "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
    )
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    handler.addFilter(request_filter)
    logging.getLogger().addHandler(handler)
    return request_filter


def _trace(exc: BaseException) -> list[str]:
    # Drop the runtime's own frame, as Lambda's stackTrace starts in the function's code.
    tb = exc.__traceback__.tb_next if exc.__traceback__ else None
    return traceback.format_list(traceback.extract_tb(tb))


def _log_error(err: dict) -> None:
    # The runtime's own log line for a failed invocation, traceback included.
    print(f"[ERROR] {err['errorType']}: {err['errorMessage']}", file=sys.stderr)
    if err["stackTrace"]:
        print("Traceback (most recent call last):", file=sys.stderr)
        print("".join(err["stackTrace"]).rstrip("\n"), file=sys.stderr)


def _load_handler(spec: str) -> Callable[[Any, Any], Any]:
    """Import the handler like the Python runtime, with its error types for each failure."""
    module_name, _, attr = spec.rpartition(".")
    module_name = module_name.replace("/", ".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise _InitError(
            _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {exc}")
        ) from exc
    except SyntaxError as exc:
        raise _InitError(
            _error("Runtime.UserCodeSyntaxError", f"Syntax error in module '{module_name}': {exc}")
        ) from exc
    except Exception as exc:
        raise _InitError(_error(type(exc).__name__, str(exc), stack=_trace(exc))) from exc
    handler = getattr(module, attr, None)
    if not callable(handler):
        raise _InitError(_error("Runtime.HandlerNotFound", f"Handler '{attr}' missing on module '{module_name}'"))
    return handler


class _InitError(Exception):
    def __init__(self, err: dict) -> None:
        super().__init__(err["errorMessage"])
        self.err = err


def _serve(argv: list[str]) -> int:
    chan = Channel(socket.socket(fileno=int(argv[1])))
    # Subprocesses a function starts must not inherit the channel and answer in its place.
    os.set_inheritable(chan.sock.fileno(), False)
    # CLOCK_MONOTONIC is system-wide on Linux, so the parent's spawn time makes Init Duration
    # include the interpreter's start-up, as Lambda's does.
    spawned_at = float(argv[2])
    task_root, layers = argv[3], argv[4:]
    # Later layers overwrite earlier ones in /opt, so they come first on sys.path.
    sys.path[:0] = [task_root, *reversed(layers)]
    os.chdir(task_root)
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    sys.stderr.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    request_filter = _setup_root_logger()

    runtime = os.environ.get("AWS_EXECUTION_ENV", "").removeprefix("AWS_Lambda_")
    print(f"INIT_START Runtime Version: {runtime} (podgate-local)")
    try:
        handler = _load_handler(os.environ["_HANDLER"])
    except _InitError as exc:
        print(f"[ERROR] {exc.err['errorType']}: {exc.err['errorMessage']}", file=sys.stderr)
        if exc.__cause__ is not None:
            # Lambda logs only the line above; the function's own frames are what a developer
            # needs, without the runtime's and importlib's.
            frames = [
                f
                for f in traceback.extract_tb(exc.__cause__.__traceback__)
                if f.filename != WORKER_SCRIPT
                and not f.filename.startswith("<frozen ")
                and "importlib" not in f.filename
            ]
            print("Traceback (most recent call last):", file=sys.stderr)
            print("".join(traceback.format_list(frames)).rstrip("\n"), file=sys.stderr)
            print("".join(traceback.format_exception_only(exc.__cause__)).rstrip("\n"), file=sys.stderr)
        sys.stdout.flush()
        chan.send({"ready": False, "error": exc.err})
        return 1
    init_ms = (time.monotonic() - spawned_at) * 1000
    chan.send({"ready": True, "initMs": init_ms})

    first = True
    while True:
        try:
            request = chan.recv()
        except EOFError:  # the gateway went away: the container is gone
            return 0
        request_id = request["requestId"]
        request_filter.request_id = request_id
        if request.get("traceId"):
            os.environ["_X_AMZN_TRACE_ID"] = request["traceId"]
        else:
            os.environ.pop("_X_AMZN_TRACE_ID", None)
        context = LambdaContext(request_id, request["deadlineMs"], request["invokedFunctionArn"])
        print(f"START RequestId: {request_id} Version: {context.function_version}")
        t0 = time.perf_counter()
        reply = _run(handler, request["event"], context)
        duration = (time.perf_counter() - t0) * 1000
        sys.stderr.flush()
        max_rss_mb = _max_rss_mb()
        report = (
            f"REPORT RequestId: {request_id}\tDuration: {duration:.2f} ms\t"
            f"Billed Duration: {max(1, int(duration + 0.999))} ms\t"
            f"Memory Size: {context.memory_limit_in_mb} MB\tMax Memory Used: {max_rss_mb} MB"
        )
        if first:
            report += f"\tInit Duration: {init_ms:.2f} ms"
            first = False
        print(f"END RequestId: {request_id}\n{report}", flush=True)
        chan.send_raw(reply)


def _run(handler: Callable[[Any, Any], Any], event: Any, context: LambdaContext) -> bytes:
    """The reply frame for one invocation: the result, or the error object Lambda would return."""
    request_id = context.aws_request_id
    try:
        result = handler(event, context)
    except Exception as exc:
        err = _error(type(exc).__name__, str(exc), request_id, _trace(exc))
    else:
        try:
            reply = json.dumps({"ok": True, "result": result}, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            err = _error("Runtime.MarshalError", f"Unable to marshal response: {exc}", request_id)
        else:
            if len(reply) <= MAX_RESPONSE_BYTES:
                return reply
            limit = f"maximum allowed payload size ({MAX_RESPONSE_BYTES} bytes)"
            err = _error("Function.ResponseSizeTooLarge", f"Response payload size exceeded {limit}.", request_id)
    _log_error(err)
    return json.dumps({"ok": False, "error": err}).encode()


def _max_rss_mb() -> int:
    import resource  # POSIX only; imported here so the parent never needs it

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024


# --------------------------------------------------------------------------------------------
# Parent: warm containers, pools, one-off invokes
# --------------------------------------------------------------------------------------------

LogSink = Callable[[str], None]


def stderr_sink(line: str) -> None:
    sys.stderr.write(line + "\n")
    sys.stderr.flush()


@dataclass
class Invocation:
    """What Lambda's Invoke reports back: the payload, and whether the function failed."""

    request_id: str
    payload: Any = None  # the handler's result, or the runtime's error object
    error: str | None = None  # the errorType when the function failed (Invoke's FunctionError)
    cold: bool = False
    timed_out: bool = False  # the function ran past its Timeout and was killed
    abandoned: bool = False  # the caller stopped waiting (API Gateway's 29 s); the function runs on
    duration_ms: float = 0.0


def lambda_environment(
    stack: Stack,
    function: Function,
    overrides: Mapping[str, str] | None = None,
    env_vars: Mapping[str, Mapping[str, str]] | None = None,
) -> dict[str, str]:
    """The process environment of one of the function's containers.

    Precedence, lowest first: a minimal base, Lambda's reserved variables, the template's
    Globals + function Environment, the stack's endpoint overrides, then a `sam local
    --env-vars` document ("Parameters" for every function, then the function's logical id).
    As in `sam local`, that document only overrides variables the template declares.
    """
    overrides = dict(overrides or {})
    region = overrides.get("AWS_REGION") or overrides.get("AWS_DEFAULT_REGION") or stack.region
    name = function.name or function.logical_id
    env = {
        "PATH": os.pathsep.join([os.path.dirname(sys.executable), "/usr/local/bin", "/usr/bin", "/bin"]),
        "HOME": os.environ.get("HOME", "/tmp"),  # noqa: S108 - only a fallback
        "LANG": "en_US.UTF-8",
        "TZ": "UTC",
        # A developer's ~/.aws must not leak profiles, regions or endpoints into a function:
        # in Lambda there is no such file, only the variables below.
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_LAMBDA_FUNCTION_NAME": name,
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(function.memory_mb),
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "LAMBDA_TASK_ROOT": str(function.code_uri),
        "_HANDLER": function.handler,
        "AWS_REGION": region,
        "AWS_DEFAULT_REGION": region,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{function.runtime}",
        # What `sam local` sets; Powertools reads it to switch X-Ray tracing off locally.
        "AWS_SAM_LOCAL": "true",
    }
    env.update(function.environment)
    env.update(overrides)
    for scope in ("Parameters", function.logical_id):
        for key, value in ((env_vars or {}).get(scope) or {}).items():
            if key in function.environment:
                env[key] = str(value)
    return env


class _Container:
    """One worker process: a warm Lambda sandbox that runs one invocation at a time."""

    def __init__(self, function: Function, env: Mapping[str, str], sink: LogSink, label: str) -> None:
        self.function = function
        self._sink = sink
        self._label = label
        self._reported = threading.Condition()
        self._last_report: str | None = None
        parent_sock, child_sock = socket.socketpair()
        # One log stream per container, as in CloudWatch.
        stream = f"{time.strftime('%Y/%m/%d', time.gmtime())}/[$LATEST]{uuid.uuid4().hex}"
        env = {**env, "AWS_LAMBDA_LOG_STREAM_NAME": stream}
        try:
            self.proc = subprocess.Popen(  # noqa: S603 - our own interpreter and script
                [
                    sys.executable,
                    "-I",
                    "-B",
                    WORKER_SCRIPT,
                    str(child_sock.fileno()),
                    repr(time.monotonic()),
                    str(function.code_uri),
                    *(str(p) for p in function.layers),
                ],
                env=env,
                cwd=function.code_uri,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                pass_fds=(child_sock.fileno(),),
                # Its own process group: a timeout kills whatever the function spawned too,
                # and a Ctrl-C in the dev terminal reaches only the stack, which shuts us down.
                start_new_session=True,
            )
        except BaseException:
            parent_sock.close()
            raise
        finally:
            child_sock.close()
        self.chan = Channel(parent_sock)
        self._reader = threading.Thread(target=self._pump_logs, name=f"{label}-logs", daemon=True)
        self._reader.start()
        self.init_ms: float | None = None

    def _pump_logs(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            self._sink(f"[{self._label}] {line}")
            if line.startswith("REPORT RequestId: "):
                with self._reported:
                    self._last_report = line.split()[2]
                    self._reported.notify_all()
        self.proc.stdout.close()

    def wait_ready(self) -> dict | None:
        """None when the init phase succeeded, else the runtime's init error object."""
        try:
            msg = self.chan.recv(time.monotonic() + INIT_TIMEOUT_SECONDS)
        except TimeoutError:
            self.kill()
            return _error("Runtime.InitTimeout", f"Init phase exceeded {INIT_TIMEOUT_SECONDS:.0f} seconds")
        except (EOFError, OSError):
            return self._exit_error(None)
        if msg.get("ready"):
            self.init_ms = msg.get("initMs")
            return None
        self.kill()
        return msg["error"]

    def send(self, message: dict) -> None:
        self.chan.send(message)

    def receive(self, deadline: float, request_id: str) -> dict:
        """The worker's reply; TimeoutError at the deadline; an exit error if the process died."""
        try:
            return self.chan.recv(deadline)
        except (EOFError, ConnectionError):
            return {"ok": False, "error": self._exit_error(request_id)}

    def wait_logged(self, request_id: str) -> None:
        # The worker writes END/REPORT before it replies, so once the reader has seen REPORT,
        # every line of this invocation has reached the sink: callers (and tests) can rely on
        # the logs being complete when the response is.
        with self._reported:
            self._reported.wait_for(lambda: self._last_report == request_id or not self.alive(), timeout=1.0)

    def _exit_error(self, request_id: str | None) -> dict:
        code = self.proc.wait(timeout=5)
        status = f"exit status {code}" if code >= 0 else f"signal: {signal.Signals(-code).name.lower()}"
        return _error("Runtime.ExitError", f"RequestId: {request_id or '-'} Error: Runtime exited with error: {status}")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.chan.close()
        self._reader.join(timeout=2)


class FunctionPool:
    """Warm containers of one function, grown on demand up to `max_concurrency`."""

    def __init__(
        self,
        stack: Stack,
        function: Function,
        env: Mapping[str, str],
        *,
        log_sink: LogSink | None = None,
        max_concurrency: int = 4,
    ) -> None:
        self.function = function
        self._env = dict(env)
        self._sink = log_sink or stderr_sink
        self._arn = f"arn:aws:lambda:{env.get('AWS_REGION', stack.region)}:{ACCOUNT_ID}:function:" + (
            function.name or function.logical_id
        )
        self._max = max(1, max_concurrency)
        self._idle: list[_Container] = []
        self._all: set[_Container] = set()
        self._cond = threading.Condition()
        self._closed = False
        self.cold_starts = 0

    def invoke(
        self,
        event: Any,
        *,
        request_id: str | None = None,
        trace_id: str | None = None,
        give_up_after: float | None = None,
    ) -> Invocation:
        """Run one invocation. With `give_up_after` seconds shorter than the function's Timeout,
        an Invocation with `abandoned` comes back at that point while the function runs on."""
        request_id = request_id or str(uuid.uuid4())
        started = time.monotonic()
        give_up_at = started + give_up_after if give_up_after is not None else None
        try:
            container, cold = self._acquire(give_up_at)
        except TimeoutError:
            return Invocation(request_id, abandoned=True)
        if cold:
            init_error = container.wait_ready()
            if init_error is not None:
                self._discard(container)
                return Invocation(request_id, init_error, init_error["errorType"], cold=True)
        timeout = self.function.timeout
        deadline = time.monotonic() + timeout
        try:
            container.send(
                {
                    "requestId": request_id,
                    "event": event,
                    "deadlineMs": int(time.time() * 1000 + timeout * 1000),
                    "invokedFunctionArn": self._arn,
                    "traceId": trace_id,
                }
            )
        except OSError:  # died while idle, after the liveness check
            err = container._exit_error(request_id)
            self._discard(container)
            return Invocation(request_id, err, err["errorType"], cold=cold)
        wait_until = deadline if give_up_at is None else min(deadline, give_up_at)
        try:
            reply = container.receive(wait_until, request_id)
        except TimeoutError:
            if wait_until < deadline:
                threading.Thread(
                    target=self._finish_abandoned, args=(container, request_id, deadline), daemon=True
                ).start()
                return Invocation(request_id, cold=cold, abandoned=True)
            return self._time_out(container, request_id, cold)
        return self._complete(container, request_id, reply, cold, started)

    def _complete(self, container: _Container, request_id: str, reply: dict, cold: bool, started: float) -> Invocation:
        healthy = container.alive()
        if healthy:
            container.wait_logged(request_id)
        self._release(container, healthy)
        inv = Invocation(request_id, cold=cold, duration_ms=(time.monotonic() - started) * 1000)
        if reply.get("ok"):
            inv.payload = reply.get("result")
        else:
            inv.payload = reply["error"]
            inv.error = reply["error"].get("errorType", "Unhandled")
        return inv

    def _time_out(self, container: _Container, request_id: str, cold: bool) -> Invocation:
        # Lambda does not interrupt a handler politely: the sandbox is thrown away, and the next
        # invocation pays a cold start.
        container.kill()
        self._discard(container)
        timeout = self.function.timeout
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1000) % 1000:03d}Z"
        label = self.function.logical_id
        self._sink(f"[{label}] {stamp} {request_id} Task timed out after {timeout:.2f} seconds")
        self._sink(f"[{label}] END RequestId: {request_id}")
        self._sink(
            f"[{label}] REPORT RequestId: {request_id}\tDuration: {timeout * 1000:.2f} ms\t"
            f"Billed Duration: {timeout * 1000} ms\tMemory Size: {self.function.memory_mb} MB\t"
            "Status: timeout"
        )
        err = _error("Sandbox.Timedout", f"{stamp} {request_id} Task timed out after {timeout:.2f} seconds")
        return Invocation(request_id, err, err["errorType"], cold=cold, timed_out=True, duration_ms=timeout * 1000)

    def _finish_abandoned(self, container: _Container, request_id: str, deadline: float) -> None:
        try:
            reply = container.receive(deadline, request_id)
        except TimeoutError:
            self._time_out(container, request_id, cold=False)
            return
        except OSError:  # the pool was closed under us
            self._discard(container)
            return
        self._complete(container, request_id, reply, False, time.monotonic())

    def _acquire(self, give_up_at: float | None) -> tuple[_Container, bool]:
        with self._cond:
            while True:
                if self._closed:
                    raise RuntimeError(f"{self.function.logical_id}: pool is closed")
                while self._idle:
                    container = self._idle.pop()  # LIFO: sequential traffic keeps one container hot
                    if container.alive():
                        return container, False
                    self._all.discard(container)
                    container.kill()
                if len(self._all) < self._max:
                    break
                left = None if give_up_at is None else give_up_at - time.monotonic()
                if left is not None and left <= 0:
                    raise TimeoutError
                self._cond.wait(left)
            label = self.function.logical_id
            container = _Container(self.function, self._env, self._sink, label)
            self._all.add(container)
            self.cold_starts += 1
        return container, True

    def _release(self, container: _Container, healthy: bool) -> None:
        with self._cond:
            if healthy and not self._closed:
                self._idle.append(container)
                self._cond.notify()
                return
        self._discard(container)

    def _discard(self, container: _Container) -> None:
        container.kill()
        with self._cond:
            self._all.discard(container)
            self._cond.notify()

    @property
    def size(self) -> int:
        with self._cond:
            return len(self._all)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            containers = list(self._all)
            self._all.clear()
            self._idle.clear()
            self._cond.notify_all()
        for container in containers:
            container.kill()


def invoke_function(
    stack: Stack,
    function_id: str,
    event: Any,
    env: Mapping[str, str] | None = None,
    *,
    env_vars: Mapping[str, Mapping[str, str]] | None = None,
    log_sink: LogSink | None = None,
) -> Invocation:
    """One invocation in a fresh container, like `sam local invoke` (cold start included)."""
    function = stack.functions[function_id]
    pool = FunctionPool(
        stack,
        function,
        lambda_environment(stack, function, env, env_vars),
        log_sink=log_sink,
        max_concurrency=1,
    )
    try:
        return pool.invoke(event)
    finally:
        pool.close()


if __name__ == "__main__":
    sys.exit(_serve(sys.argv))
