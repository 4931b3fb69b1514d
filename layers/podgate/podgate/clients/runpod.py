"""RunPod REST v2 client (https://api.runpod.io/v2), on requests.

Everything RunPod or the network can do wrong leaves this module as a podgate.errors type;
no requests/urllib3 exception escapes, and RunPod's own words never reach an exception's
`detail` (callers may show that to users). RunPod's answer to a failed call is logged at
WARNING, truncated and with every `env` object redacted: pod env values are user secrets.
Request bodies, headers and the API key are never logged.

Retries are this module's own, and each call names its policy (`RETRY_SAFE` or `NO_RETRY`)
rather than inheriting one from its HTTP method:

* reads (list, get, catalogue), DELETE and the `stop` action are safe to repeat, and are
  retried up to twice on connection errors (refused, reset, read timeouts), 429, 502, 503
  and 504. A repeat of a stop or delete that did go through answers 409 or 404, which
  PodService already reads as "stopped" and "gone".
* create (POST /pods) and the `start` action are never repeated: RunPod has answered 5xx to
  a create that still started a billed pod, so only the caller, after looking, can decide to
  try again.

A retry waits what RunPod asks (`Retry-After`, else for a 429 the reset time `t` of the
exhausted `RateLimit` window), else an exponential backoff with full jitter:
uniform(0, min(cap, base * 2**n)) for the n-th retry (base 0.2 s, cap 2 s). A wait longer
than MAX_RETRY_WAIT is not taken: the caller gets the error with its Retry-After instead.

Inside Lambda, `time_budget` returns the seconds left in the invocation. Each attempt's
timeouts are cut so it gives up about a second before the budget ends, and no retry starts
(or waits) unless it can still get MIN_ATTEMPT_SECONDS after its wait: we answer our own
504 instead of being killed mid-call and leaving API Gateway to answer for us.
"""

from __future__ import annotations

import email.utils
import itertools
import json
import logging
import math
import random
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, NewConnectionError
from urllib3.exceptions import TimeoutError as Urllib3Timeout
from urllib3.util import Retry, Timeout

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
from podgate.models.runpod import GpuType, RunPodCreatePod, RunPodPod

log = logging.getLogger(__name__)

# RunPod ids are lowercase alphanumerics (14 today); anything else must never reach a URL.
_POD_ID = re.compile(r"[a-z0-9]{1,64}")
# Capacity is recognised by RunPod's wording, not its status code (400 on v2, 500 on v1).
_CAPACITY_MARKERS = ("no longer any instances available", "not enough free gpus")
_RATE_LIMIT_ITEM = re.compile(r'"?(?P<name>[^";,\s]+)"?\s*;(?P<params>[^,]*)')

# Seconds kept back from the Lambda budget: enough to log and answer after giving up.
BUDGET_RESERVE = 1.0
# A retry that cannot get at least this long for its attempt is not worth starting.
MIN_ATTEMPT_SECONDS = 0.5
# Longest wait (backoff or Retry-After) a retry may take; longer means "tell the caller".
MAX_RETRY_WAIT = 2.0
# Full-jitter backoff: the n-th retry waits uniform(0, min(BACKOFF_CAP, BACKOFF_BASE * 2**n)).
BACKOFF_BASE = 0.2
BACKOFF_CAP = MAX_RETRY_WAIT
_LOGGED_BODY_CHARS = 500


@dataclass(frozen=True)
class RetryPolicy:
    """Whether, and on what, one kind of call may be sent again unchanged."""

    name: str
    max_retries: int = 0
    statuses: frozenset[int] = frozenset()
    # Connection refused or reset, the connection dropped mid-answer, a read timeout.
    on_transport_errors: bool = False


# Reads, DELETE and stop: repeating them changes nothing that the first one did not.
RETRY_SAFE = RetryPolicy(
    "safe to repeat", max_retries=2, statuses=frozenset({429, 502, 503, 504}), on_transport_errors=True
)
# Create and start: a repeat could start a second billed pod (or take GPUs twice).
NO_RETRY = RetryPolicy("never repeated")


class RunPodClient:
    """One instance per container: it keeps one Session, so connections are reused.

    `rng` draws the backoff jitter and `sleep` waits between attempts; tests pass a seeded
    random.Random and a recorder.
    """

    def __init__(
        self,
        base_url: str,
        api_key: Callable[[], str],
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        time_budget: Callable[[], float | None] | None = None,
        session: requests.Session | None = None,
        backoff_base: float = BACKOFF_BASE,
        backoff_cap: float = BACKOFF_CAP,
        rng: random.Random | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ConfigurationError("RunPod API URL must be an http(s) URL")
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._time_budget = time_budget
        self._session = session or self._new_session()
        self._backoff_base = backoff_base
        self._backoff_cap = backoff_cap
        # Jitter needs no cryptographic quality; SystemRandom just avoids a shared seed.
        self._rng = rng or random.SystemRandom()
        self._sleep = sleep

    @staticmethod
    def _new_session() -> requests.Session:
        session = requests.Session()
        # urllib3 never retries on its own: _call does, by the policy each call names.
        adapter = HTTPAdapter(
            max_retries=Retry(total=0, read=False, redirect=False, raise_on_status=False),
            pool_connections=1,
            pool_maxsize=4,
        )
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update({"Accept": "application/json", "User-Agent": "podgate"})
        return session

    def close(self) -> None:
        self._session.close()

    # -- pods --

    def list_pods(self) -> list[RunPodPod]:
        data = self._call("GET", "/pods", retry=RETRY_SAFE)
        items = data.get("pods") if isinstance(data, dict) else data
        return self._parse_list(RunPodPod, items, "GET /pods")

    def get_pod(self, pod_id: str) -> RunPodPod:
        data = self._call("GET", f"/pods/{_checked(pod_id)}", retry=RETRY_SAFE)
        return self._parse_one(RunPodPod, data, "GET /pods/{id}")

    def create_pod(self, req: RunPodCreatePod) -> RunPodPod:
        data = self._call(
            "POST", "/pods", retry=NO_RETRY, json_body=req.to_payload(), gpu_type=req.gpu.id, wants_gpus=True
        )
        return self._parse_one(RunPodPod, data, "POST /pods")

    def stop_pod(self, pod_id: str) -> RunPodPod | None:
        """Stop a pod. Retried like a read: a repeat of a stop that went through answers 409
        (RunPodConflict) for the now EXITED pod, which callers resolve by reading the pod."""
        return self._action(pod_id, "stop", RETRY_SAFE)

    def start_pod(self, pod_id: str) -> RunPodPod | None:
        return self._action(pod_id, "start", NO_RETRY)

    def terminate_pod(self, pod_id: str) -> None:
        """Terminate (DELETE) a pod. An unknown pod raises RunPodNotFound: that includes one a
        retried DELETE already removed, so callers treat it as "gone" where that is safe."""
        self._call("DELETE", f"/pods/{_checked(pod_id)}", retry=RETRY_SAFE)

    def _action(self, pod_id: str, action: str, retry: RetryPolicy) -> RunPodPod | None:
        data = self._call(
            "POST",
            f"/pods/{_checked(pod_id)}/action",
            retry=retry,
            json_body={"action": action},
            wants_gpus=action in ("start", "restart"),  # only these can run out of GPUs
        )
        if data is None:
            return None
        return self._parse_one(RunPodPod, data, f"POST /pods/{{id}}/action {action}")

    # -- catalogue --

    def list_gpu_types(self) -> list[GpuType]:
        data = self._call("GET", "/catalog/gpus", retry=RETRY_SAFE)
        items = data.get("gpus") if isinstance(data, dict) else data
        return self._parse_list(GpuType, items, "GET /catalog/gpus")

    # -- transport --

    def _timeout(self) -> Timeout | tuple[float, float]:
        """This attempt's timeouts: the configured ones, cut to end BUDGET_RESERVE seconds
        before the Lambda's time runs out."""
        left = _seconds_left(self._time_budget)
        if left == math.inf:
            return (self._connect_timeout, self._read_timeout)
        if left < MIN_ATTEMPT_SECONDS:
            log.warning("RunPod call skipped: the invocation's time budget is spent")
            raise RunPodTimeout()
        return Timeout(connect=min(self._connect_timeout, left), read=min(self._read_timeout, left), total=left)

    def _call(
        self,
        method: str,
        path: str,
        *,
        retry: RetryPolicy,
        json_body: Any = None,
        gpu_type: str | None = None,
        wants_gpus: bool = False,
    ) -> Any:
        """Send one request, repeated as `retry` allows; the decoded JSON of a 2xx answer
        (None when it has no body)."""
        key = self._api_key()
        if not key:
            raise ConfigurationError("RunPod API key is empty")
        for attempt in itertools.count():
            timeout = self._timeout()
            started = time.monotonic()
            failure: Exception | None = None
            try:
                resp = self._session.request(
                    method,
                    self._base_url + path,
                    json=json_body,
                    headers={"Authorization": f"Bearer {key}"},
                    timeout=timeout,
                    allow_redirects=False,
                )
            except (requests.RequestException, Urllib3Error) as exc:
                failure = exc
            if failure is not None:
                wait = self._retry_wait(retry, attempt, error=failure)
                if wait is None:
                    # Raised outside the except block, `from None`: a requests exception
                    # holds the prepared request, env values and all.
                    raise _transport_error(failure, method, path) from None
                log.info("RunPod %s %s failed (%s); retry %d in %.2f s", method, path, type(failure).__name__,
                         attempt + 1, wait)
            else:
                log.debug("RunPod %s %s -> %s in %.0f ms", method, path, resp.status_code,
                          (time.monotonic() - started) * 1000)
                if 200 <= resp.status_code < 300:
                    return self._decode(resp, method, path)
                wait = self._retry_wait(retry, attempt, response=resp)
                if wait is None:
                    raise _http_error(resp, method, path, gpu_type, wants_gpus=wants_gpus)
                log.info("RunPod %s %s answered %s; retry %d in %.2f s", method, path, resp.status_code,
                         attempt + 1, wait)
            self._sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_wait(
        self,
        policy: RetryPolicy,
        attempt: int,
        *,
        response: requests.Response | None = None,
        error: Exception | None = None,
    ) -> float | None:
        """Seconds to wait before repeating a failed attempt, or None to give up now."""
        if attempt >= policy.max_retries:
            return None
        if response is not None:
            if response.status_code not in policy.statuses:
                return None
            wait = _server_wait(response)
        else:
            if not (policy.on_transport_errors and _is_retryable_transport_error(error)):
                return None
            wait = None
        if wait is None:
            wait = self._backoff(attempt)
        left = _seconds_left(self._time_budget)
        if wait > MAX_RETRY_WAIT or left - wait < MIN_ATTEMPT_SECONDS:
            log.info("RunPod: not retrying (would wait %.1f s with %.1f s left)", wait, left)
            return None
        return wait

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with full jitter for the (attempt+1)-th retry."""
        return self._rng.uniform(0.0, min(self._backoff_cap, self._backoff_base * 2**attempt))

    @staticmethod
    def _decode(resp: requests.Response, method: str, path: str) -> Any:
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError:
            log.warning("RunPod %s %s answered %s with invalid JSON (%s)", method, path, resp.status_code,
                        _describe(resp))
            raise RunPodError() from None

    @staticmethod
    def _parse_one[M: BaseModel](model: type[M], data: Any, what: str) -> M:
        try:
            return model.model_validate(data)
        except ValidationError as exc:
            log.warning("RunPod %s: unexpected payload: %s", what, _shape_errors(exc))
            raise RunPodError() from None

    @staticmethod
    def _parse_list[M: BaseModel](model: type[M], items: Any, what: str) -> list[M]:
        if not isinstance(items, list):
            log.warning("RunPod %s: expected a list, got %s", what, type(items).__name__)
            raise RunPodError()
        parsed: list[M] = []
        for item in items:
            try:
                parsed.append(model.model_validate(item))
            except ValidationError as exc:
                # One odd entry must not hide all the others (an admin could not even list).
                log.warning("RunPod %s: skipped an unreadable entry: %s", what, _shape_errors(exc))
        return parsed


def _seconds_left(budget: Callable[[], float | None] | None) -> float:
    """Seconds usable before giving up; infinite outside Lambda (no budget, or it says None)."""
    remaining = budget() if budget is not None else None
    return math.inf if remaining is None else remaining - BUDGET_RESERVE


def _checked(pod_id: str) -> str:
    if not isinstance(pod_id, str) or not _POD_ID.fullmatch(pod_id):
        raise RunPodNotFound()
    return pod_id


def _is_timeout(exc: Exception) -> bool:
    if isinstance(exc, requests.Timeout):
        return True
    # Exhausted retries arrive as ConnectionError(MaxRetryError(reason)), a read timeout while
    # reading the body as ConnectionError(ReadTimeoutError): look at the underlying reason.
    reason = exc.args[0] if exc.args else None
    if isinstance(reason, MaxRetryError):
        reason = reason.reason
    # urllib3 files "connection refused" (NewConnectionError) under ConnectTimeoutError.
    return isinstance(reason, Urllib3Timeout) and not isinstance(reason, NewConnectionError)


def _is_retryable_transport_error(exc: Exception | None) -> bool:
    """Failures a repeat may not meet again: no connection, a dropped one, no answer in time.
    A TLS failure, a bad URL or a redirect loop would only fail the same way."""
    if isinstance(exc, requests.exceptions.SSLError):
        return False
    return isinstance(exc, requests.ConnectionError | requests.Timeout | requests.exceptions.ChunkedEncodingError)


def _server_wait(resp: requests.Response) -> float | None:
    """The wait RunPod asked for: Retry-After, else (429 only) the exhausted window's `t`."""
    wait = _retry_after(resp.headers)
    if wait is None and resp.status_code == 429:
        wait = _exhausted_window(resp)
    return None if wait is None else float(wait)


def _transport_error(exc: Exception, method: str, path: str) -> RunPodError:
    if _is_timeout(exc):
        log.warning("RunPod %s %s timed out", method, path)
        return RunPodTimeout()
    log.warning("RunPod %s %s failed: %s", method, path, type(exc).__name__)
    if isinstance(exc, requests.ConnectionError):
        return RunPodUnavailable()
    return RunPodError()


def _http_error(
    resp: requests.Response, method: str, path: str, gpu_type: str | None, *, wants_gpus: bool
) -> RunPodError:
    """Our error for RunPod's answer. What a status means depends on the call: 404 speaks of a
    pod only on a pod's own path, 409 only for a change to one, and RunPod's capacity wording
    only matters when a call asks for GPUs (create, start); elsewhere it is RunPod misbehaving."""
    status = resp.status_code
    log.warning("RunPod %s %s answered %s: %s", method, path, status, _describe(resp))
    about_a_pod = path.startswith("/pods/")
    error: RunPodError
    if status in (401, 403):
        error = RunPodAuthError()
    elif status in (400, 500) and wants_gpus and _is_capacity(_problem_message(resp)):
        error = RunPodCapacityError(gpu_type)
    elif status == 404 and about_a_pod:
        error = RunPodNotFound()
    elif status == 409 and about_a_pod and method != "GET":
        error = RunPodConflict()
    elif status == 429:
        error = RunPodRateLimited(retry_after=_seconds(_retry_after(resp.headers)) or _exhausted_window(resp))
    elif status == 503:
        retry_after = _seconds(_retry_after(resp.headers))
        error = RunPodUnavailable(headers={"Retry-After": str(retry_after)} if retry_after else None)
    elif status == 504:
        error = RunPodTimeout()  # RunPod's own gateway gave up waiting: still "did not answer in time"
    else:
        error = RunPodError()
    error.upstream_status = status
    return error


def _problem_message(resp: requests.Response) -> str:
    """An error's text, read from RFC 9457 `detail`, then v1's `error`, then `message`."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    for key in ("detail", "error", "message"):
        if isinstance(body.get(key), str):
            return body[key]
    return ""


def _is_capacity(message: str) -> bool:
    text = message.lower()
    return any(marker in text for marker in _CAPACITY_MARKERS)


def _retry_after(headers: Any) -> float | None:
    """Retry-After in seconds (delta-seconds or an HTTP date), None if absent or unreadable."""
    value = (headers.get("Retry-After") or "").strip()
    if not value:
        return None
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def _exhausted_window(resp: requests.Response) -> int | None:
    """Seconds until the exhausted window of the `RateLimit` header resets (reference §6):
    `"minute";r=0;t=12, "hour";r=7193;t=2701` -> 12."""
    waits = []
    for item in _RATE_LIMIT_ITEM.finditer(resp.headers.get("RateLimit", "")):
        params = dict(p.strip().partition("=")[::2] for p in item["params"].split(";") if "=" in p)
        if params.get("r", "").strip() == "0" and params.get("t", "").strip().isdigit():
            waits.append(int(params["t"]))
    return max(waits) if waits else None


# A Retry-After we pass on is capped: a far-future date or a huge number from upstream would
# only tell our callers to give up for good.
MAX_RETRY_AFTER_SECONDS = 3600


def _seconds(value: float | None) -> int | None:
    return None if value is None else min(MAX_RETRY_AFTER_SECONDS, max(1, math.ceil(value)))


def _describe(resp: requests.Response) -> str:
    """What may be logged of an answer: JSON with `env` redacted, truncated; never raw text,
    which could be a cut-off pod with its env values."""
    try:
        body = resp.json()
    except ValueError:
        return f"{len(resp.content)} bytes of {resp.headers.get('Content-Type') or 'unknown type'}, not JSON"
    text = json.dumps(_redact(body), separators=(",", ":"))
    return text if len(text) <= _LOGGED_BODY_CHARS else text[:_LOGGED_BODY_CHARS] + "..."


def _redact(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: "<redacted>" if str(k).lower() == "env" else _redact(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_redact(v) for v in value]
    return value


def _shape_errors(exc: ValidationError) -> str:
    """Where a payload broke our model, without the offending values."""
    return "; ".join(
        f"{'.'.join(map(str, e['loc'])) or '$'}: {e['type']}"
        for e in exc.errors(include_url=False, include_input=False, include_context=False)
    )
