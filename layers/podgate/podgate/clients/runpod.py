"""RunPod REST v2 client (https://api.runpod.io/v2), on requests.

Everything RunPod or the network can do wrong leaves this module as a podgate.errors type;
no requests/urllib3 exception escapes, and RunPod's own words never reach an exception's
`detail` (callers may show that to users). RunPod's answer to a failed call is logged at
WARNING, truncated and with every `env` object redacted: pod env values are user secrets.
Request bodies, headers and the API key are never logged.

Retries are urllib3's, and deliberately narrow: GET and DELETE only, on 429/502/503/504 and
on connection errors. A POST (create, start, stop) is never repeated blindly; RunPod has
answered 5xx to a create that still started a billed pod, so only the caller, after looking,
can decide to try again.

Inside Lambda, `time_budget` returns the seconds left in the invocation. Each attempt's
timeouts are cut so it gives up about a second before the budget ends, and no retry starts
(or waits) unless it can finish in time: we answer our own 504 instead of being killed
mid-call and leaving API Gateway to answer for us.
"""

from __future__ import annotations

import email.utils
import json
import logging
import math
import re
import time
from collections.abc import Callable
from typing import Any

import requests
from pydantic import BaseModel, ValidationError
from requests.adapters import HTTPAdapter
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.exceptions import MaxRetryError, NewConnectionError, ResponseError
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
_LOGGED_BODY_CHARS = 500


class _BudgetTimeout(Timeout):
    """A urllib3 Timeout re-cut for every attempt (urllib3 clones it per attempt) so that
    connect + read end BUDGET_RESERVE seconds before the Lambda's time runs out."""

    def __init__(self, connect: float, read: float, budget: Callable[[], float | None]) -> None:
        super().__init__(connect=connect, read=read)
        self._connect_cap = connect
        self._read_cap = read
        self._budget = budget

    def clone(self) -> Timeout:
        left = _seconds_left(self._budget)
        if left == math.inf:
            return Timeout(connect=self._connect_cap, read=self._read_cap)
        left = max(left, 0.001)  # urllib3 refuses 0; this still times out at once
        return Timeout(connect=min(self._connect_cap, left), read=min(self._read_cap, left), total=left)


class _BudgetRetry(Retry):
    """urllib3's Retry, except that it gives up rather than wait past MAX_RETRY_WAIT (a long
    Retry-After is the caller's to honour) or start an attempt the time budget cannot fit."""

    def __init__(
        self,
        *args: Any,
        budget: Callable[[], float | None] | None = None,
        max_wait: float = MAX_RETRY_WAIT,
        **kw: Any,
    ) -> None:
        super().__init__(*args, **kw)
        self.budget = budget
        self.max_wait = max_wait

    def new(self, **kw: Any) -> _BudgetRetry:
        retry = super().new(**kw)
        retry.budget, retry.max_wait = self.budget, self.max_wait
        return retry

    def get_retry_after(self, response: Any) -> float | None:
        # urllib3 raises InvalidHeader on an unreadable Retry-After; treat it as absent instead.
        return _retry_after(response.headers)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: Any = None,
        error: Exception | None = None,
        _pool: Any = None,
        _stacktrace: Any = None,
    ) -> _BudgetRetry:
        retry = super().increment(method, url, response, error, _pool, _stacktrace)
        wait = self.get_retry_after(response) if response is not None else None
        if wait is None:
            # get_backoff_time() adds a random jitter of up to backoff_jitter, and urllib3 draws
            # its own when it sleeps: count the largest possible one.
            wait = retry.get_backoff_time() + retry.backoff_jitter
        left = _seconds_left(self.budget)
        if wait > self.max_wait or left - wait < MIN_ATTEMPT_SECONDS:
            # For a response, urllib3 then hands it back (raise_on_status=False) and we map it.
            reason = error or ResponseError(f"not retrying: would wait {wait:.1f}s with {left:.1f}s left")
            raise MaxRetryError(_pool, url, reason)
        return retry


class RunPodClient:
    """One instance per container: it keeps one Session, so connections are reused."""

    def __init__(
        self,
        base_url: str,
        api_key: Callable[[], str],
        *,
        connect_timeout: float = 3.05,
        read_timeout: float = 10.0,
        time_budget: Callable[[], float | None] | None = None,
        session: requests.Session | None = None,
    ) -> None:
        if not base_url.startswith(("https://", "http://")):
            raise ConfigurationError("RunPod API URL must be an http(s) URL")
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._time_budget = time_budget
        self._session = session or self._new_session(time_budget)

    @staticmethod
    def _new_session(time_budget: Callable[[], float | None] | None) -> requests.Session:
        retry = _BudgetRetry(
            total=2,
            allowed_methods=frozenset({"GET", "DELETE"}),
            status_forcelist=frozenset({429, 502, 503, 504}),
            backoff_factor=0.25,
            backoff_jitter=0.25,
            backoff_max=MAX_RETRY_WAIT,
            respect_retry_after_header=True,
            raise_on_status=False,  # hand the last error response back, so it is mapped below
            budget=time_budget,
        )
        session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry, pool_connections=1, pool_maxsize=4)
        session.mount("https://", adapter)
        session.mount("http://", adapter)
        session.headers.update({"Accept": "application/json", "User-Agent": "podgate"})
        return session

    def close(self) -> None:
        self._session.close()

    # -- pods --

    def list_pods(self) -> list[RunPodPod]:
        data = self._call("GET", "/pods")
        items = data.get("pods") if isinstance(data, dict) else data
        return self._parse_list(RunPodPod, items, "GET /pods")

    def get_pod(self, pod_id: str) -> RunPodPod:
        return self._parse_one(RunPodPod, self._call("GET", f"/pods/{_checked(pod_id)}"), "GET /pods/{id}")

    def create_pod(self, req: RunPodCreatePod) -> RunPodPod:
        data = self._call("POST", "/pods", json_body=req.to_payload(), gpu_type=req.gpu.id)
        return self._parse_one(RunPodPod, data, "POST /pods")

    def stop_pod(self, pod_id: str) -> RunPodPod | None:
        return self._action(pod_id, "stop")

    def start_pod(self, pod_id: str) -> RunPodPod | None:
        return self._action(pod_id, "start")

    def terminate_pod(self, pod_id: str) -> None:
        """Terminate (DELETE) a pod. An unknown pod raises RunPodNotFound: that includes one a
        retried DELETE already removed, so callers treat it as "gone" where that is safe."""
        self._call("DELETE", f"/pods/{_checked(pod_id)}")

    def _action(self, pod_id: str, action: str) -> RunPodPod | None:
        data = self._call("POST", f"/pods/{_checked(pod_id)}/action", json_body={"action": action})
        if data is None:
            return None
        return self._parse_one(RunPodPod, data, f"POST /pods/{{id}}/action {action}")

    # -- catalogue --

    def list_gpu_types(self) -> list[GpuType]:
        data = self._call("GET", "/catalog/gpus")
        items = data.get("gpus") if isinstance(data, dict) else data
        return self._parse_list(GpuType, items, "GET /catalog/gpus")

    # -- transport --

    def _timeout(self) -> Timeout | tuple[float, float]:
        left = _seconds_left(self._time_budget)
        if self._time_budget is None or left == math.inf:
            return (self._connect_timeout, self._read_timeout)
        if left < MIN_ATTEMPT_SECONDS:
            log.warning("RunPod call skipped: the invocation's time budget is spent")
            raise RunPodTimeout()
        return _BudgetTimeout(self._connect_timeout, self._read_timeout, self._time_budget)

    def _call(self, method: str, path: str, *, json_body: Any = None, gpu_type: str | None = None) -> Any:
        """Send one request; the decoded JSON of a 2xx answer (None when it has no body)."""
        timeout = self._timeout()
        key = self._api_key()
        if not key:
            raise ConfigurationError("RunPod API key is empty")
        started = time.monotonic()
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
            # `from None`: a requests exception holds the prepared request, env values and all.
            raise _transport_error(exc, method, path) from None
        log.debug("RunPod %s %s -> %s in %.0f ms", method, path, resp.status_code,
                  (time.monotonic() - started) * 1000)
        if not 200 <= resp.status_code < 300:
            raise _http_error(resp, method, path, gpu_type)
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


def _transport_error(exc: Exception, method: str, path: str) -> RunPodError:
    if _is_timeout(exc):
        log.warning("RunPod %s %s timed out", method, path)
        return RunPodTimeout()
    log.warning("RunPod %s %s failed: %s", method, path, type(exc).__name__)
    if isinstance(exc, requests.ConnectionError):
        return RunPodUnavailable()
    return RunPodError()


def _http_error(resp: requests.Response, method: str, path: str, gpu_type: str | None) -> RunPodError:
    status = resp.status_code
    log.warning("RunPod %s %s answered %s: %s", method, path, status, _describe(resp))
    if status in (401, 403):
        return RunPodAuthError()
    if status in (400, 500) and _is_capacity(_problem_message(resp)):
        return RunPodCapacityError(gpu_type)
    if status == 404:
        return RunPodNotFound()
    if status == 409:
        return RunPodConflict()
    if status == 429:
        return RunPodRateLimited(retry_after=_seconds(_retry_after(resp.headers)) or _exhausted_window(resp))
    if status == 503:
        retry_after = _seconds(_retry_after(resp.headers))
        return RunPodUnavailable(headers={"Retry-After": str(retry_after)} if retry_after else None)
    return RunPodError()


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


def _seconds(value: float | None) -> int | None:
    return None if value is None else max(1, math.ceil(value))


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
