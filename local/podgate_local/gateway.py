"""A local API Gateway (REST API, Lambda proxy integration) built from template.yaml.

What `sam local start-api` does with Docker, this does with worker processes (worker.py), and
it adds the parts `sam local` leaves out or gets wrong for this API: the TOKEN authorizer with
its ValidationExpression, result cache and IAM policy evaluation; Gateway Responses from the
template; MISSING_AUTHENTICATION_TOKEN for unknown routes; the CORS preflight methods SAM's
`Cors` adds; the stage's method throttling from `MethodSettings`; the 10 MB payload limit; and
the integration timeout. Behaviour follows API Gateway's, not sam local's, wherever they differ.

Requests are served at the root (http://127.0.0.1:3000/pods, as `sam local start-api` does)
and under the stage prefix (http://127.0.0.1:3000/dev/pods, as the execute-api URL does).
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fnmatch
import functools
import hashlib
import json
import re
import secrets
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qsl, unquote

from podgate_local.template import Authorizer, Cors, MethodSetting, Route, Stack
from podgate_local.worker import (
    ACCOUNT_ID,
    FunctionPool,
    Invocation,
    LogSink,
    lambda_environment,
    stderr_sink,
)

__all__ = ["GatewayResponse", "LocalGateway", "StageThrottle", "TokenBucket", "evaluate_policy"]

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # API Gateway's hard limit for REST APIs
_DRAIN_LIMIT = 8 * MAX_PAYLOAD_BYTES  # past this, an oversized body is not even read to the end
INTEGRATION_TIMEOUT_SECONDS = 29.0
# What a method gets for a limit its MethodSettings leave out: the account's default per Region.
ACCOUNT_RATE_LIMIT = 10_000.0
ACCOUNT_BURST_LIMIT = 5_000

# type -> (default status, x-amzn-ErrorType, default message). Messages are API Gateway's own;
# None is what it sends for authorizer errors ({"message": null}).
_RESPONSE_TYPES: dict[str, tuple[int, str, str | None]] = {
    "UNAUTHORIZED": (401, "UnauthorizedException", "Unauthorized"),
    "ACCESS_DENIED": (403, "AccessDeniedException", "User is not authorized to access this resource"),
    "MISSING_AUTHENTICATION_TOKEN": (
        403,
        "MissingAuthenticationTokenException",
        "Missing Authentication Token",
    ),
    "AUTHORIZER_FAILURE": (500, "AuthorizerFailureException", None),
    "AUTHORIZER_CONFIGURATION_ERROR": (500, "AuthorizerConfigurationException", None),
    "REQUEST_TOO_LARGE": (413, "RequestTooLargeException", "Request Too Long"),
    "INTEGRATION_FAILURE": (504, "InternalServerErrorException", "Internal server error"),
    "INTEGRATION_TIMEOUT": (504, "InternalServerErrorException", "Endpoint request timed out"),
    "RESOURCE_NOT_FOUND": (404, "ResourceNotFoundException", "Resource not found"),
    "THROTTLED": (429, "TooManyRequestsException", "Too Many Requests"),
    "BAD_REQUEST_BODY": (400, "BadRequestException", "Invalid request body"),
    "DEFAULT_4XX": (400, "BadRequestException", "Bad Request"),
    "DEFAULT_5XX": (500, "InternalServerErrorException", "Internal server error"),
}

# What http.server refuses before a request reaches the gateway, as (status, detail): the
# protocol errors API Gateway's front end answers in JSON like any other error. HTTP/2+ in an
# HTTP/1 request line (http.server's 505) is just a malformed request line here.
_PROTOCOL_ERRORS: dict[int, tuple[int, str]] = {
    400: (400, "Bad request"),
    414: (414, "Request-URI too long"),
    431: (431, "Request header fields too large"),
    505: (400, "Bad request"),
}
_MAX_LINE = 65536  # http.server's limit for the request line and each header line
# After a protocol error: how long, and how much, to read and drop before closing (see _linger).
_LINGER_SECONDS = 1.0
_LINGER_BYTES = 1 << 20
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_CONTENT_LENGTH = re.compile(r"[0-9]{1,20}")
# A query parameter name the access log may show; anything else (a bare value, a base64 string
# that looks like name=value) is logged as *** like every value.
_LOGGABLE_NAME = re.compile(r"[A-Za-z0-9_.\-\[\]%]{1,32}")
# http.server's error messages that may be logged: a fixed phrase, nothing from the request.
_PLAIN_REASON = re.compile(r"[A-Za-z0-9/. ]{1,40}")
# Escapes for control characters in log lines, so that a request cannot write to the terminal.
_CONTROL_CHARS = str.maketrans({c: f"\\x{c:02x}" for c in (*range(0x20), *range(0x7F, 0xA0))})

# Headers API Gateway owns on the way out; a function cannot set them.
_HOP_BY_HOP = {"content-length", "connection", "transfer-encoding", "keep-alive"}
_PROXY_KEYS = {"statusCode", "headers", "multiValueHeaders", "body", "isBase64Encoded"}


# --------------------------------------------------------------------------------------------
# Gateway responses
# --------------------------------------------------------------------------------------------


@dataclass
class GatewayResponse:
    status: int
    headers: list[tuple[str, str]]
    body: bytes


class GatewayResponses:
    """The template's GatewayResponses, with API Gateway's fallbacks.

    A type the template customises wins; otherwise DEFAULT_4XX / DEFAULT_5XX by the type's
    status class; otherwise API Gateway's built-in `{"message": ...}`.
    """

    def __init__(self, configured: Mapping[str, Mapping[str, Any]]) -> None:
        self._configured = configured

    def render(
        self,
        response_type: str,
        *,
        request_id: str,
        request_headers: Mapping[str, str],
        message: str | None = None,
        status: int | None = None,
    ) -> GatewayResponse:
        """`message` and `status` replace the type's defaults (the template's StatusCode still wins)."""
        default_status, error_type, default_message = _RESPONSE_TYPES[response_type]
        message = message if message is not None else default_message
        status = status or default_status
        entry = self._configured.get(response_type)
        if entry is None:
            entry = self._configured.get("DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX")
        entry = entry or {}
        if entry.get("StatusCode"):
            status = int(entry["StatusCode"])
        template = (entry.get("ResponseTemplates") or {}).get("application/json")
        if template is None:
            body = json.dumps({"message": message})
        else:
            body = (
                template.replace("$context.error.messageString", json.dumps(message))
                .replace("$context.error.message", "" if message is None else message)
                .replace("$context.error.responseType", response_type)
                .replace("$context.requestId", request_id)
            )
        headers = [("Content-Type", "application/json")]
        lowered = {k.lower(): v for k, v in request_headers.items()}
        for name, expression in ((entry.get("ResponseParameters") or {}).get("Headers") or {}).items():
            value = _mapped_value(expression, lowered)
            if value is None:
                continue
            headers = [(k, v) for k, v in headers if k.lower() != name.lower()] + [(name, value)]
        headers.append(("x-amzn-ErrorType", error_type))
        return GatewayResponse(status, headers, body.encode())


def _mapped_value(expression: Any, lowered_request_headers: Mapping[str, str]) -> str | None:
    """A header mapping expression's value: 'literal' (quotes stripped) or
    method.request.header.<name> (None when the request has no such header)."""
    expression = str(expression)
    if expression.startswith("method.request.header."):
        return lowered_request_headers.get(expression.removeprefix("method.request.header.").lower())
    return expression.strip("'")


# --------------------------------------------------------------------------------------------
# CORS preflight (SAM's Cors)
# --------------------------------------------------------------------------------------------

# What SAM writes for Access-Control-Allow-Methods on a path with an ANY method; also every
# method a REST API has. ANY means these, and any other method (TRACE, CONNECT, ...) matches
# no resource method.
_ALL_HTTP_METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def preflight_response(cors: Cors, path_methods: Iterable[str], request_headers: Mapping[str, str]) -> GatewayResponse:
    """What the OPTIONS method SAM adds for `Cors` answers: its MOCK integration's 200 with the
    CORS headers as response parameters, and nothing else (no authorizer of its own, no Lambda).

    Without AllowMethods, SAM lists the path's methods plus OPTIONS, sorted; every method when
    the path has ANY. Allow-Credentials is only ever 'true', and only when asked for.
    """
    allow_methods = cors.allow_methods
    if allow_methods is None:
        methods = {m.upper() for m in path_methods}
        listed = _ALL_HTTP_METHODS if "ANY" in methods else sorted(methods | {"OPTIONS"})
        allow_methods = "'" + ",".join(listed) + "'"
    lowered = {k.lower(): v for k, v in request_headers.items()}
    headers = [("Content-Type", "application/json")]
    for name, expression in (
        ("Access-Control-Allow-Origin", cors.allow_origin),
        ("Access-Control-Allow-Headers", cors.allow_headers),
        ("Access-Control-Allow-Methods", allow_methods),
        ("Access-Control-Max-Age", cors.max_age),
        ("Access-Control-Allow-Credentials", "'true'" if cors.allow_credentials else None),
    ):
        value = None if expression is None else _mapped_value(expression, lowered)
        if value is not None:
            headers.append((name, value))
    return GatewayResponse(200, headers, b"")


# --------------------------------------------------------------------------------------------
# Throttling (the stage's MethodSettings)
# --------------------------------------------------------------------------------------------


class TokenBucket:
    """API Gateway's token bucket: it starts with `burst` tokens, a request takes one, and tokens
    come back at `rate` per second up to `burst`. Time is whatever `clock` says."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = float(rate)
        self.burst = int(burst)
        self._clock = clock
        self._tokens = float(self.burst)
        self._last = clock()
        self._lock = threading.Lock()

    def _refill(self) -> None:
        now = self._clock()
        elapsed = now - self._last
        self._last = now
        if elapsed > 0:  # never inf * 0 for an unlimited rate
            self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)

    def take(self) -> bool:
        """Take a token; False (throttled) when none is left."""
        with self._lock:
            self._refill()
            if self._tokens >= 1 - 1e-9:  # elapsed * rate in floating point: 0.02 s at 50/s is 0.999...
                self._tokens = max(0.0, self._tokens - 1)
                return True
            return False

    @property
    def tokens(self) -> float:
        with self._lock:
            self._refill()
            return self._tokens


class StageThrottle:
    """Method throttling of one stage, from the Api's MethodSettings.

    As in API Gateway, "per-API, per-stage throttling limits are applied at the API method
    level": the "/*" + "*" setting gives *each* method (resource path + HTTP method; ANY is
    one method) its own bucket with those limits, and a setting naming a method overrides it
    for that method. A limit a setting leaves out is the account's default. Requests that
    match no method (MISSING_AUTHENTICATION_TOKEN) are not throttled here: only the
    account-level limit, which is not emulated, would apply to them.

    `override` replaces the template: (rate, burst) for every method, or False for none.
    """

    def __init__(
        self,
        settings: Sequence[MethodSetting],
        clock: Callable[[], float] = time.monotonic,
        override: tuple[float, int] | Literal[False] | None = None,
    ) -> None:
        self._settings = tuple(settings)
        self._clock = clock
        self._override = override
        self._buckets: dict[tuple[str, str], TokenBucket | None] = {}
        self._lock = threading.Lock()

    def limits(self, path: str, method: str) -> tuple[float, int] | None:
        """(rate per second, burst) for the method at resource `path`; None when unthrottled."""
        if self._override is False:
            return None
        if self._override is not None:
            rate, burst = self._override
            return float(rate), int(burst)
        default = [s for s in self._settings if s.resource_path == "/*" and s.http_method == "*"]
        specific = [s for s in self._settings if s.resource_path != "/*" and s.applies_to(path, method)]
        # An exact method beats "*" on the same path, which beats the stage-wide default.
        specific.sort(key=lambda s: s.http_method != "*")
        chain = specific[-1:] + default[-1:]
        rate = next((s.throttling_rate_limit for s in chain if s.throttling_rate_limit is not None), None)
        burst = next((s.throttling_burst_limit for s in chain if s.throttling_burst_limit is not None), None)
        if rate is None and burst is None:
            return None
        return (
            ACCOUNT_RATE_LIMIT if rate is None else rate,
            ACCOUNT_BURST_LIMIT if burst is None else burst,
        )

    def bucket(self, path: str, method: str) -> TokenBucket | None:
        key = (path, method.upper())
        with self._lock:
            if key not in self._buckets:
                limits = self.limits(path, method)
                self._buckets[key] = None if limits is None else TokenBucket(*limits, clock=self._clock)
            return self._buckets[key]

    def allow(self, path: str, method: str) -> bool:
        bucket = self.bucket(path, method)
        return bucket is None or bucket.take()


# --------------------------------------------------------------------------------------------
# Routing
# --------------------------------------------------------------------------------------------


@dataclass
class _Resource:
    path: str
    pattern: re.Pattern[str]
    methods: dict[str, Route]
    rank: tuple[int, ...]
    resource_id: str


class Router:
    """Resources and methods from the template, matched the way API Gateway walks its tree:
    at each segment a literal beats a {param}, which beats a greedy {proxy+}."""

    def __init__(self, routes: Iterable[Route], api_id: str) -> None:
        by_path: dict[str, dict[str, Route]] = {}
        for route in routes:
            by_path.setdefault(route.path, {})[route.method] = route
        self._resources = sorted(
            (
                _Resource(
                    path,
                    next(iter(methods.values())).pattern,
                    methods,
                    tuple(_segment_rank(s) for s in path.strip("/").split("/") if s),
                    hashlib.sha1(f"{api_id}{path}".encode()).hexdigest()[:6],  # noqa: S324 - an id, not security
                )
                for path, methods in by_path.items()
            ),
            key=lambda r: r.rank,
            reverse=True,
        )

    def match(self, path: str) -> tuple[_Resource, dict[str, str]] | None:
        if len(path) > 1 and path.endswith("/"):  # API Gateway ignores one trailing slash
            path = path[:-1]
        for resource in self._resources:
            m = resource.pattern.match(path)
            if m:
                return resource, {k: unquote(v) for k, v in m.groupdict().items()}
        return None


def _segment_rank(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return 0
    return 1 if segment.startswith("{") else 2


# --------------------------------------------------------------------------------------------
# TOKEN authorizer
# --------------------------------------------------------------------------------------------


class MalformedPolicy(ValueError):
    pass


@functools.lru_cache(maxsize=512)
def _iam_pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM wildcards: * is any run of characters (":" and "/" included), ? is one character.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(regex, re.DOTALL | (re.IGNORECASE if ignore_case else 0))


def _as_list(value: Any, what: str) -> list[str]:
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
        raise MalformedPolicy(f"{what} must be a string or a non-empty list of strings")
    return items


def evaluate_policy(document: Any, method_arn: str) -> tuple[bool, bool]:
    """(allowed, explicitly denied) for execute-api:Invoke on `method_arn`, as IAM decides:
    an explicit Deny wins, and without any matching Allow the answer is deny."""
    if not isinstance(document, dict):
        raise MalformedPolicy("policyDocument must be an object")
    statements = document.get("Statement")
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list):
        raise MalformedPolicy("policyDocument.Statement must be an object or a list")
    allowed = False
    for st in statements:
        if not isinstance(st, dict) or st.get("Effect") not in ("Allow", "Deny"):
            raise MalformedPolicy("each Statement needs Effect Allow or Deny")
        actions = _as_list(st.get("Action"), "Action")
        resources = _as_list(st.get("Resource"), "Resource")
        if not any(_iam_pattern(a, True).fullmatch("execute-api:Invoke") for a in actions):
            continue
        if not any(_iam_pattern(r, False).fullmatch(method_arn) for r in resources):
            continue
        if st["Effect"] == "Deny":
            return False, True
        allowed = True
    return allowed, False


@dataclass
class _Decision:
    principal_id: str
    policy: dict[str, Any]
    context: dict[str, str]
    expires_at: float


@dataclass
class AuthOutcome:
    allowed: bool
    response_type: str | None = None  # the gateway response when not allowed
    message: str | None = None
    authorizer_context: dict[str, Any] | None = None


class TokenAuthorizer:
    """One TOKEN authorizer: identity check, cache, invocation and policy evaluation."""

    def __init__(self, spec: Authorizer, pool: FunctionPool, log: LogSink, clock: Callable[[], float]) -> None:
        self.spec = spec
        self._pool = pool
        self._log = log
        self._clock = clock
        self._validation = re.compile(spec.validation_expression) if spec.validation_expression else None
        self._cache: dict[str, _Decision] = {}
        self._lock = threading.Lock()
        self.invocations = 0

    def authorize(self, headers: Mapping[str, str], method_arn: str, give_up_after: float) -> AuthOutcome:
        token = _header(headers, self.spec.header)
        if not token:
            return AuthOutcome(False, "UNAUTHORIZED")
        if self._validation is not None and not self._validation.fullmatch(token):
            return AuthOutcome(False, "UNAUTHORIZED")
        decision, latency_ms = self._cached(token), 0
        if decision is None:
            started = time.monotonic()
            decision_or_outcome = self._invoke(token, method_arn, give_up_after)
            if isinstance(decision_or_outcome, AuthOutcome):
                return decision_or_outcome
            decision = decision_or_outcome
            latency_ms = int((time.monotonic() - started) * 1000)
        try:
            allowed, explicit = evaluate_policy(decision.policy, method_arn)
        except MalformedPolicy as exc:
            self._forget(token)
            self._log(f"[ApiGateway] Execution failed due to configuration error: {exc}")
            return AuthOutcome(False, "AUTHORIZER_CONFIGURATION_ERROR")
        if not allowed:
            message = "User is not authorized to access this resource" + (" with an explicit deny" if explicit else "")
            return AuthOutcome(False, "ACCESS_DENIED", message)
        return AuthOutcome(
            True,
            authorizer_context={
                **decision.context,
                "principalId": decision.principal_id,
                "integrationLatency": latency_ms,
            },
        )

    def _cached(self, token: str) -> _Decision | None:
        if self.spec.ttl_seconds <= 0:
            return None
        with self._lock:
            hit = self._cache.get(token)
            if hit is not None and hit.expires_at <= self._clock():
                del self._cache[token]
                hit = None
            return hit

    def _forget(self, token: str) -> None:
        with self._lock:
            self._cache.pop(token, None)

    def _invoke(self, token: str, method_arn: str, give_up_after: float) -> _Decision | AuthOutcome:
        with self._lock:
            self.invocations += 1
        event = {"type": "TOKEN", "authorizationToken": token, "methodArn": method_arn}
        inv = self._pool.invoke(event, give_up_after=give_up_after)
        if inv.abandoned:
            self._log(f"[ApiGateway] Authorizer {self.spec.name} did not answer in time")
            return AuthOutcome(False, "AUTHORIZER_CONFIGURATION_ERROR")
        if inv.error:
            # Only this exact message means "the token is bad"; any other failure is the
            # authorizer's own fault, which API Gateway reports as a configuration error.
            if isinstance(inv.payload, dict) and inv.payload.get("errorMessage") == "Unauthorized":
                return AuthOutcome(False, "UNAUTHORIZED")
            self._log(f"[ApiGateway] Execution failed due to configuration error: authorizer error ({inv.error})")
            return AuthOutcome(False, "AUTHORIZER_CONFIGURATION_ERROR")
        try:
            decision = self._decision(inv.payload)
        except MalformedPolicy as exc:
            self._log(f"[ApiGateway] Execution failed due to configuration error: bad authorizer response: {exc}")
            return AuthOutcome(False, "AUTHORIZER_CONFIGURATION_ERROR")
        if self.spec.ttl_seconds > 0:
            with self._lock:
                if len(self._cache) > 1024:
                    now = self._clock()
                    self._cache = {k: v for k, v in self._cache.items() if v.expires_at > now}
                self._cache[token] = decision
        return decision

    def _decision(self, payload: Any) -> _Decision:
        if not isinstance(payload, dict):
            raise MalformedPolicy("the response must be an object")
        principal = payload.get("principalId")
        if not isinstance(principal, str):
            raise MalformedPolicy("principalId is missing")
        policy = payload.get("policyDocument")
        if not isinstance(policy, dict):
            raise MalformedPolicy("policyDocument is missing")
        raw_context = payload.get("context") or {}
        if not isinstance(raw_context, dict):
            raise MalformedPolicy("context must be an object")
        context: dict[str, str] = {}
        for key, value in raw_context.items():
            # REST APIs hand context values to the integration as strings.
            if isinstance(value, bool):
                context[key] = "true" if value else "false"
            elif isinstance(value, (str, int, float)):
                context[key] = value if isinstance(value, str) else json.dumps(value)
            else:
                raise MalformedPolicy(f"context value {key!r} must be a string, number or boolean")
        return _Decision(principal, policy, context, self._clock() + self.spec.ttl_seconds)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    found = None
    for key, value in headers.items():
        if key.lower() == wanted:
            found = value
    return found


# --------------------------------------------------------------------------------------------
# Proxy integration: event in, response out
# --------------------------------------------------------------------------------------------


class MalformedProxyResponse(ValueError):
    pass


def parse_proxy_response(result: Any) -> tuple[int, list[tuple[str, str]], bytes]:
    """Status, headers and body from a Lambda proxy response, checked the way REST APIs do."""
    if not isinstance(result, dict):
        raise MalformedProxyResponse("the response is not a JSON object")
    unknown = set(result) - _PROXY_KEYS
    if unknown:
        raise MalformedProxyResponse(f"unexpected keys {sorted(unknown)}")
    status = result.get("statusCode")
    if isinstance(status, str) and status.isdigit():
        status = int(status)
    if not isinstance(status, int) or isinstance(status, bool) or not 100 <= status <= 599:
        raise MalformedProxyResponse(f"statusCode {status!r} is not an HTTP status")
    headers = _response_headers(result.get("headers") or {}, result.get("multiValueHeaders") or {})
    body = result.get("body")
    if body is None:
        data = b""
    elif not isinstance(body, str):
        raise MalformedProxyResponse("body must be a string")
    elif result.get("isBase64Encoded"):
        try:
            data = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise MalformedProxyResponse("body is not valid base64") from exc
    else:
        data = body.encode()
    return status, headers, data


def _response_headers(single: Any, multi: Any) -> list[tuple[str, str]]:
    if not isinstance(multi, dict) or not isinstance(single, dict):
        raise MalformedProxyResponse("headers and multiValueHeaders must be objects")
    merged: dict[str, tuple[str, list[str]]] = {}
    for name, values in multi.items():
        if not isinstance(values, list):
            raise MalformedProxyResponse(f"multiValueHeaders[{name!r}] must be a list")
        merged[name.lower()] = (name, [_header_value(v) for v in values])
    for name, value in single.items():
        # Where both name a header, API Gateway keeps only the multiValueHeaders values.
        merged.setdefault(name.lower(), (name, [_header_value(value)]))
    headers = [(name, v) for key, (name, values) in merged.items() if key not in _HOP_BY_HOP for v in values]
    if "content-type" not in merged:
        headers.insert(0, ("Content-Type", "application/json"))
    return headers


def _header_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    raise MalformedProxyResponse(f"header value {value!r} is not a string, number or boolean")


def _grouped(pairs: Iterable[tuple[str, str]]) -> tuple[dict[str, str], dict[str, list[str]]]:
    single: dict[str, str] = {}
    multi: dict[str, list[str]] = {}
    for key, value in pairs:
        single[key] = value
        multi.setdefault(key, []).append(value)
    return single, multi


@dataclass
class _Request:
    method: str
    raw_path: str  # as requested (stage prefix included), still percent-encoded
    raw_query: str
    headers: list[tuple[str, str]]
    body: bytes
    source_ip: str
    protocol: str


# --------------------------------------------------------------------------------------------
# The gateway
# --------------------------------------------------------------------------------------------


class LocalGateway:
    """The API's stage, served on loopback by a threaded HTTP/1.1 server.

    `env` is layered over every function's template environment (the local endpoints);
    `env_vars` is a `sam local --env-vars` document for per-function overrides. Function logs
    reach `log_sink` one line at a time as "[FunctionLogicalId] line", the gateway's own
    execution-log lines as "[ApiGateway] line"; `access_log` gets one line per request, with
    query values replaced by *** and no header values (tokens travel in both).
    `integration_timeout` is API Gateway's 29 s limit, and `clock` times the authorizer cache
    and the throttling buckets (both replaceable so tests need not wait). `throttle` replaces
    the template's MethodSettings throttling: None keeps the template's, (rate, burst) applies
    to every method, False turns throttling off.
    """

    def __init__(
        self,
        stack: Stack,
        *,
        env: Mapping[str, str],
        env_vars: Mapping[str, Mapping[str, str]] | None = None,
        host: str = "127.0.0.1",
        port: int = 3000,
        log_sink: LogSink | None = None,
        max_concurrency_per_function: int = 4,
        integration_timeout: float = INTEGRATION_TIMEOUT_SECONDS,
        access_log: LogSink | None = None,
        clock: Callable[[], float] = time.monotonic,
        throttle: tuple[float, int] | Literal[False] | None = None,
    ) -> None:
        self.stack = stack
        self.host = host
        self.port = port
        self.integration_timeout = integration_timeout
        self._log = log_sink or stderr_sink
        self._access_log = access_log
        self.region = env.get("AWS_REGION") or stack.region
        # Stable across restarts, so ARNs in logs and cached policies look the same each run.
        self.api_id = _base36(hashlib.sha1(stack.api_name.encode()).digest())[:10]  # noqa: S324
        self.pools = {
            fid: FunctionPool(
                stack,
                fn,
                lambda_environment(stack, fn, env, env_vars),
                log_sink=self._log,
                max_concurrency=max_concurrency_per_function,
            )
            for fid, fn in stack.functions.items()
        }
        self.authorizers = {
            name: TokenAuthorizer(spec, self.pools[spec.function], self._log, clock)
            for name, spec in stack.authorizers.items()
        }
        self.router = Router(stack.routes, self.api_id)
        self.responses = GatewayResponses(stack.gateway_responses)
        self.throttle = StageThrottle(stack.method_settings, clock, throttle)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------

    def start(self) -> LocalGateway:
        handler = type("BoundHandler", (_Handler,), {"gateway": self})
        self._server = ThreadingHTTPServer((self.host, self.port), handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(
            # stop() waits for up to one poll interval; the default 0.5 s adds up in test suites
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="gateway",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._connections_lock:
            for conn in self._connections:  # idle keep-alive connections would hold threads
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)
            self._connections.clear()
        for pool in self.pools.values():
            pool.close()

    def __enter__(self) -> LocalGateway:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def stage_url(self) -> str:
        return f"{self.url}/{self.stack.stage}"

    # -- request processing ----------------------------------------------------------------

    def handle(self, req: _Request) -> GatewayResponse:
        request_id = str(uuid.uuid4())
        headers_single, headers_multi = _grouped(req.headers)
        try:
            response = self._handle(req, request_id, headers_single, headers_multi)
        except Exception:
            for line in traceback.format_exc().rstrip().splitlines():
                self._log(f"[ApiGateway] {line}")
            response = self._gateway("DEFAULT_5XX", request_id, headers_single)
        response.headers.append(("x-amzn-RequestId", request_id))
        return response

    def _gateway(self, response_type: str, request_id: str, headers: Mapping[str, str], **kw: Any) -> GatewayResponse:
        return self.responses.render(response_type, request_id=request_id, request_headers=headers, **kw)

    def _handle(
        self, req: _Request, request_id: str, headers: dict[str, str], multi_headers: dict[str, list[str]]
    ) -> GatewayResponse:
        if req.method not in _ALL_HTTP_METHODS:
            # No 501 in API Gateway: a method it does not have is a method no resource has.
            return self._gateway("MISSING_AUTHENTICATION_TOKEN", request_id, headers)
        path = req.raw_path
        stage_prefix = f"/{self.stack.stage}"
        # Stage URLs first: the user's document and deployed clients use them. A template
        # resource that itself starts with the stage name stays reachable as /<stage>/<stage>/...
        if path == stage_prefix or path.startswith(stage_prefix + "/"):
            path = path[len(stage_prefix) :] or "/"
        found = self.router.match(path)
        if found is None:
            return self._gateway("MISSING_AUTHENTICATION_TOKEN", request_id, headers)
        resource, path_params = found
        route = resource.methods.get(req.method)
        if route is None and req.method == "OPTIONS" and self.stack.cors is not None:
            # SAM's Cors adds an OPTIONS method to every path without one of its own; like any
            # explicit method, it takes precedence over ANY.
            return self._preflight(self.stack.cors, resource, path, request_id, headers)
        route = route or resource.methods.get("ANY")
        if route is None:
            return self._gateway("MISSING_AUTHENTICATION_TOKEN", request_id, headers)
        # Method throttling comes before the authorizer: a throttled request costs no invocation.
        if not self.throttle.allow(resource.path, route.method):
            return self._gateway("THROTTLED", request_id, headers)
        authorizer_context, refused = self._authorize(route.authorizer, req.method, path, request_id, headers)
        if refused is not None:
            return refused

        trace_id = f"Root=1-{int(time.time()):08x}-{secrets.token_hex(12)}"
        event = self._event(
            req,
            path,
            resource,
            route,
            path_params,
            headers,
            multi_headers,
            request_id,
            trace_id,
            authorizer_context,
        )
        inv = self.pools[route.function].invoke(
            event,
            trace_id=f"{trace_id};Parent={secrets.token_hex(8)};Sampled=0",
            give_up_after=self.integration_timeout,
        )
        return self._integration_response(inv, route, request_id, headers)

    def _authorize(
        self, name: str | None, method: str, path: str, request_id: str, headers: Mapping[str, str]
    ) -> tuple[dict[str, Any] | None, GatewayResponse | None]:
        """(authorizer context, None) when the request may proceed, (None, the gateway response)
        when not. No authorizer: (None, None)."""
        if not name:
            return None, None
        method_arn = (
            f"arn:aws:execute-api:{self.region}:{ACCOUNT_ID}:{self.api_id}/{self.stack.stage}/"
            f"{method}/{path.lstrip('/')}"
        )
        outcome = self.authorizers[name].authorize(headers, method_arn, self.integration_timeout)
        if not outcome.allowed:
            refused = self._gateway(
                outcome.response_type or "ACCESS_DENIED", request_id, headers, message=outcome.message
            )
            return None, refused
        return outcome.authorizer_context, None

    def _preflight(
        self, cors: Cors, resource: _Resource, path: str, request_id: str, headers: Mapping[str, str]
    ) -> GatewayResponse:
        """SAM's OPTIONS method: throttled like any method, authorized only when the template
        leaves AddDefaultAuthorizerToCorsPreflight true, answered by its MOCK integration."""
        if not self.throttle.allow(resource.path, "OPTIONS"):
            return self._gateway("THROTTLED", request_id, headers)
        _, refused = self._authorize(cors.authorizer, "OPTIONS", path, request_id, headers)
        if refused is not None:
            return refused
        return preflight_response(cors, resource.methods, headers)

    def _integration_response(
        self, inv: Invocation, route: Route, request_id: str, headers: Mapping[str, str]
    ) -> GatewayResponse:
        if inv.abandoned:
            self._log(f"[ApiGateway] {route.method} {route.path}: Execution failed due to a timeout error")
            return self._gateway("INTEGRATION_TIMEOUT", request_id, headers)
        if inv.error:
            # A function error is not a Gateway Response type of its own: 502 through DEFAULT_5XX.
            self._log(f"[ApiGateway] {route.method} {route.path}: Lambda function failed ({inv.error})")
            return self._gateway("DEFAULT_5XX", request_id, headers, status=502)
        try:
            status, out_headers, body = parse_proxy_response(inv.payload)
        except MalformedProxyResponse as exc:
            self._log(
                f"[ApiGateway] {route.method} {route.path}: Execution failed due to configuration error: "
                f"Malformed Lambda proxy response ({exc})"
            )
            return self._gateway("DEFAULT_5XX", request_id, headers, status=502)
        return GatewayResponse(status, out_headers, body)

    def _event(
        self,
        req: _Request,
        path: str,
        resource: _Resource,
        route: Route,
        path_params: dict[str, str],
        headers: dict[str, str],
        multi_headers: dict[str, list[str]],
        request_id: str,
        trace_id: str,
        authorizer_context: dict[str, Any] | None,
    ) -> dict[str, Any]:
        """A REST API proxy event (payload format 1.0), field for field."""
        headers = {**headers, "X-Amzn-Trace-Id": trace_id}
        multi_headers = {**multi_headers, "X-Amzn-Trace-Id": [trace_id]}
        for name, value in (
            ("X-Forwarded-For", req.source_ip),
            ("X-Forwarded-Port", str(self.port)),
            ("X-Forwarded-Proto", "http"),
        ):
            headers.setdefault(name, value)
            multi_headers.setdefault(name, [value])
        query, multi_query = _grouped(parse_qsl(req.raw_query, keep_blank_values=True))
        now = time.time()
        host = headers.get("Host") or _header(headers, "host") or f"{self.host}:{self.port}"
        body, is_b64 = self._event_body(req.body, _header(headers, "content-type"))
        context: dict[str, Any] = {
            "accountId": ACCOUNT_ID,
            "apiId": self.api_id,
            "resourceId": resource.resource_id,
            "resourcePath": route.path,
            "httpMethod": req.method,
            "extendedRequestId": base64.b64encode(secrets.token_bytes(8)).decode()[:11] + "=",
            "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "requestTimeEpoch": int(now * 1000),
            "path": f"/{self.stack.stage}{path}",
            "stage": self.stack.stage,
            "protocol": req.protocol,
            "domainName": host,
            "domainPrefix": host.split(".")[0].split(":")[0],
            "requestId": request_id,
            "identity": {
                "cognitoIdentityPoolId": None,
                "accountId": None,
                "cognitoIdentityId": None,
                "caller": None,
                "sourceIp": req.source_ip,
                "principalOrgId": None,
                "accessKey": None,
                "cognitoAuthenticationType": None,
                "cognitoAuthenticationProvider": None,
                "userArn": None,
                "userAgent": _header(headers, "user-agent"),
                "user": None,
                "apiKey": None,
                "apiKeyId": None,
                "clientCert": None,
            },
        }
        if authorizer_context is not None:
            context["authorizer"] = authorizer_context
        return {
            "resource": route.path,
            "path": path,
            "httpMethod": req.method,
            "headers": headers,
            "multiValueHeaders": multi_headers,
            "queryStringParameters": query or None,
            "multiValueQueryStringParameters": multi_query or None,
            "pathParameters": path_params or None,
            "stageVariables": None,
            "requestContext": context,
            "body": body,
            "isBase64Encoded": is_b64,
        }

    def _event_body(self, data: bytes, content_type: str | None) -> tuple[str | None, bool]:
        if not data:
            return None, False
        media = (content_type or "").split(";")[0].strip().lower()
        binary = bool(media) and any(fnmatch.fnmatchcase(media, t.lower()) for t in self.stack.binary_media_types)
        if not binary:
            try:
                return data.decode("utf-8"), False
            except UnicodeDecodeError:
                pass
        return base64.b64encode(data).decode(), True

    def access(self, line: str) -> None:
        if self._access_log is not None:
            self._access_log(line)

    def log(self, line: str) -> None:
        self._log(line)


def _loggable_target(target: str) -> str:
    """A request target as the logs may show it: the path, and of the query string only the
    parameter names; values (and pieces that are not plainly a name) become ***. An
    absolute-form target loses its scheme and authority, which can carry user:password."""
    path, sep, query = target.partition("?")
    if path.startswith(("http://", "https://")):
        path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
    if not sep:
        return path
    pieces = []
    for piece in query.split("&"):
        name, eq, _ = piece.partition("=")
        if eq and _LOGGABLE_NAME.fullmatch(name):
            pieces.append(f"{name}=***")
        else:
            pieces.append("***" if piece else "")
    return f"{path}?{'&'.join(pieces)}"


def _base36(data: bytes) -> str:
    n = int.from_bytes(data, "big")
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = []
    while n:
        n, r = divmod(n, 36)
        out.append(digits[r])
    return "".join(out) or "0"


class _BadRequest(Exception):
    """A request body the gateway cannot read: invalid Content-Length or chunked encoding.
    The message says which, for the log; it never quotes the request."""


class _Handler(BaseHTTPRequestHandler):
    gateway: LocalGateway
    _started: float | None = None  # when the current request's line was read
    protocol_version = "HTTP/1.1"  # keep-alive, so a client's connection pool is reused
    server_version = "podgate-local"
    sys_version = ""
    # Without this, a response's two writes (headers, body) meet the client's delayed ACK
    # on keep-alive connections and every request waits ~40 ms.
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        with self.gateway._connections_lock:
            self.gateway._connections.add(self.connection)

    def finish(self) -> None:
        with self.gateway._connections_lock:
            self.gateway._connections.discard(self.connection)
        super().finish()

    def __getattr__(self, name: str) -> Any:
        # Every method reaches _serve, not only those with a do_ method: http.server would answer
        # the others with its own HTML 501, where API Gateway answers MISSING_AUTHENTICATION_TOKEN.
        if name.startswith("do_"):
            return self._serve
        raise AttributeError(name)

    def parse_request(self) -> bool:
        self._started = time.perf_counter()
        if len(str(self.raw_requestline, "iso-8859-1").split()) == 2:
            # "GET /path" without a version is HTTP/0.9, which http.server answers with a bare
            # body (after waiting for headers a 0.9 client never sends). API Gateway speaks HTTP/1.x.
            self.command, self.request_version = None, self.protocol_version
            self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/0.9 request")
            return False
        return super().parse_request()

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's answer to a request it cannot parse (request line, header block):
        a JSON gateway response like every other answer, instead of its HTML page. Only the
        reason's fixed part is logged; the rest of http.server's message quotes the request."""
        status, detail = _PROTOCOL_ERRORS.get(int(code)) or (int(code), _reason(int(code)) or "Bad request")
        why = (message or "").partition(" (")[0]  # "Bad request version ('HTTP/9.9')" -> its fixed part
        # The request's headers were not (all) read, and self.headers may still be the previous
        # request's on a kept-alive connection: map nothing from them.
        self._protocol_error(status, detail, {}, why if _PLAIN_REASON.fullmatch(why) else None)

    def _protocol_error(self, status: int, detail: str, request_headers: Mapping[str, str], why: str | None) -> None:
        """Answer a request the gateway cannot read through the template's DEFAULT_4XX/5XX (so
        it is JSON with the template's CORS headers), log one line, and close the connection."""
        if self.request_version == "HTTP/0.9":  # not parsed yet: http.server would write no status line
            self.request_version = self.protocol_version
        request_id = str(uuid.uuid4())
        response = self.gateway.responses.render(
            "DEFAULT_5XX" if status >= 500 else "DEFAULT_4XX",
            request_id=request_id,
            request_headers=request_headers,
            message=detail,
            status=status,
        )
        response.headers += [("x-amzn-RequestId", request_id), ("Connection", "close")]
        self.close_connection = True
        self.gateway.log(
            f"[ApiGateway] Refused a request from {self.client_address[0]}: {response.status} {detail}"
            + (f" ({why})" if why else "")
        )
        self._write(response)
        self._access(response)
        self._linger()

    def _linger(self) -> None:
        """Half-close, then read and drop what the client still sends, for a while. Closing with
        unread input makes the kernel reset the connection, and the client can lose the answer."""
        with contextlib.suppress(OSError):
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            deadline, dropped = time.monotonic() + _LINGER_SECONDS, 0
            while dropped < _LINGER_BYTES and (left := deadline - time.monotonic()) > 0:
                self.connection.settimeout(left)
                data = self.connection.recv(65536)
                if not data:
                    break
                dropped += len(data)

    def handle_expect_100(self) -> bool:
        # Refuse an oversized body before the client sends it, like API Gateway's 413.
        try:
            length = 0 if self._chunked() else self._declared_length()
        except _BadRequest as exc:
            self._protocol_error(400, "Bad request", dict(self.headers.items()), str(exc))
            return False
        if length > MAX_PAYLOAD_BYTES:
            self._too_large(close=True)
            return False
        return super().handle_expect_100()

    def _chunked(self) -> bool:
        return "chunked" in (self.headers.get("Transfer-Encoding") or "").lower()

    def _declared_length(self) -> int:
        value = self.headers.get("Content-Length")
        if value is None:
            return 0
        if not _CONTENT_LENGTH.fullmatch(value.strip()):
            raise _BadRequest("invalid Content-Length")
        return int(value)

    def _too_large(self, *, close: bool) -> None:
        request_id = str(uuid.uuid4())
        response = self.gateway.responses.render(
            "REQUEST_TOO_LARGE", request_id=request_id, request_headers=dict(self.headers.items())
        )
        response.headers.append(("x-amzn-RequestId", request_id))
        if close:  # an unread body makes the connection unusable
            self.close_connection = True
            response.headers.append(("Connection", "close"))
        self._write(response)
        self._access(response)

    def _read_body(self) -> bytes | None:
        """The request body; None when it exceeds the limit (a 413 was sent). _BadRequest when its
        framing (Content-Length, chunked encoding) is invalid.

        An oversized body is still read (and dropped) up to a bound, so that clients which send
        the whole body before reading the answer, as most do without Expect: 100-continue,
        see the 413 instead of a reset connection.
        """
        if self._chunked():
            return self._read_chunked()
        length = self._declared_length()
        if length > MAX_PAYLOAD_BYTES:
            if length > _DRAIN_LIMIT:
                self._too_large(close=True)
                return None
            while length > 0:
                chunk = self.rfile.read(min(length, 1 << 20))
                if not chunk:
                    break
                length -= len(chunk)
            self._too_large(close=False)
            return None
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes | None:
        """A chunked body, checked strictly: a size that is not plain hex (int() would also take
        "-1", "+5", "0x5", "1_0"), a chunk cut short or not followed by CRLF raises _BadRequest."""
        chunks, total = [], 0
        while True:
            line = self.rfile.readline(_MAX_LINE + 1)
            size_field = line.split(b";", 1)[0].strip()
            if not line.endswith(b"\n") or not _CHUNK_SIZE.fullmatch(size_field):
                raise _BadRequest("invalid chunk size" if line else "chunked body cut short")
            size = int(size_field, 16)
            if size == 0:
                break
            total += size
            if total > _DRAIN_LIMIT:
                self._too_large(close=True)
                return None
            chunk = self.rfile.read(size)
            if len(chunk) < size:
                raise _BadRequest("chunked body cut short")
            if total <= MAX_PAYLOAD_BYTES:
                chunks.append(chunk)
            if self.rfile.readline(3) not in (b"\r\n", b"\n"):
                raise _BadRequest("chunk data not followed by CRLF")
        for _ in range(100):  # trailers, up to the blank line
            line = self.rfile.readline(_MAX_LINE + 1)
            if line in (b"\r\n", b"\n"):
                break
            if not line.endswith(b"\n"):
                raise _BadRequest("chunked body cut short" if not line else "trailer line too long")
        else:
            raise _BadRequest("too many trailers")
        if total > MAX_PAYLOAD_BYTES:
            self._too_large(close=False)
            return None
        return b"".join(chunks)

    def _serve(self) -> None:
        try:
            body = self._read_body()
        except _BadRequest as exc:
            self._protocol_error(400, "Bad request", dict(self.headers.items()), str(exc))
            return
        if body is None:
            return
        raw_path, _, raw_query = self.path.partition("?")
        if raw_path.startswith(("http://", "https://")):  # absolute-form request target
            raw_path = "/" + raw_path.split("/", 3)[3] if raw_path.count("/") >= 3 else "/"
        req = _Request(
            method=self.command,
            raw_path=raw_path or "/",
            raw_query=raw_query,
            headers=list(self.headers.items()),
            body=body,
            source_ip=self.client_address[0],
            protocol=self.request_version,
        )
        response = self.gateway.handle(req)
        self._write(response)
        self._access(response)

    def _access(self, response: GatewayResponse) -> None:
        """One access-log line: never a query value or a header value (tokens travel in both)."""
        request = "-"
        if self.command:  # else the request line was not understood: it may be anything
            request = f"{self.command} {_loggable_target(self.path)} {self.request_version}"
            request = request.translate(_CONTROL_CHARS)
        elapsed = 0.0 if self._started is None else (time.perf_counter() - self._started) * 1000
        self._started = None
        self.gateway.access(
            f'{self.client_address[0]} "{request}" {response.status} {len(response.body)} {elapsed:.1f}ms'
        )

    def _write(self, response: GatewayResponse) -> None:
        self.send_response_only(response.status, _reason(response.status))
        self.send_header("Date", self.date_time_string())
        for name, value in response.headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # access lines go through LocalGateway.access instead of stderr


def _reason(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""
