"""The local API Gateway and Lambda runtime, against the tiny SAM app in tests/fixtures/gateway_app.

The fixture app's functions are trivial (echo, raise, sleep, odd proxy responses, a broken
import, a scriptable TOKEN authorizer), so these tests pin API Gateway's and Lambda's
behaviour without depending on podgate's own functions.
"""

from __future__ import annotations

import base64
import dataclasses
import http.client
import json
import os
import re
import socket
import threading
import time
import uuid
from pathlib import Path

import pytest
import requests

from podgate_local.gateway import LocalGateway, MalformedPolicy, StageThrottle, TokenBucket, evaluate_policy
from podgate_local.template import MethodSetting, load_stack
from podgate_local.worker import invoke_function

APP = Path(__file__).resolve().parents[1] / "fixtures" / "gateway_app"
REGION = "eu-west-1"
ENV = {"AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION, "ENDPOINT_OVERRIDE": "http://127.0.0.1:9"}
CORS_ORIGIN = "https://console.example"  # the fixture's CorsOrigin default
ENV_VARS = {
    "Parameters": {"GREETING": "hi-from-env-vars", "NOT_IN_TEMPLATE": "ignored"},
    "OtherFunction": {"FUNCTION_SETTING": "other-from-env-vars"},
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


class Logs:
    def __init__(self) -> None:
        self.lines: list[str] = []
        self._lock = threading.Lock()

    def __call__(self, line: str) -> None:
        with self._lock:
            self.lines.append(line)

    def since(self, mark: int) -> list[str]:
        with self._lock:
            return self.lines[mark:]

    def mark(self) -> int:
        with self._lock:
            return len(self.lines)


@pytest.fixture(scope="module")
def stack():
    return load_stack(APP / "template.yaml", stack_name="gwtest")


@pytest.fixture(scope="module")
def clock():
    return FakeClock()


@pytest.fixture(scope="module")
def logs():
    return Logs()


@pytest.fixture(scope="module")
def gateway(stack, clock, logs):
    # Throttling off: this module sends far more than the fixture's burst of 3 (see the
    # throttling tests, which get gateways of their own).
    gw = LocalGateway(stack, env=ENV, env_vars=ENV_VARS, port=0, log_sink=logs, clock=clock, throttle=False).start()
    yield gw
    gw.stop()


@pytest.fixture(scope="module")
def api(gateway):
    with requests.Session() as session:
        yield session


def call(gw: LocalGateway, method: str, path: str, headers=(), body: bytes | None = None):
    """A raw request: repeated headers and exact bytes, which requests would normalise."""
    conn = http.client.HTTPConnection(gw.host, gw.port, timeout=10)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in headers:
            conn.putheader(name, value)
        if body is not None:
            conn.putheader("Content-Length", str(len(body)))
        conn.endheaders(body)
        resp = conn.getresponse()
        return resp.status, resp.getheaders(), resp.read()
    finally:
        conn.close()


def token(word: str) -> dict[str, str]:
    return {"X-Token": f"Bearer {word}"}


def echoed(resp: requests.Response) -> dict:
    assert resp.status_code == 200, resp.text
    return resp.json()


# --- routing ---------------------------------------------------------------------------------


def test_routes_answer_at_the_root_and_under_the_stage_prefix(gateway, api):
    for prefix in ("", "/test"):
        event = echoed(api.get(f"{gateway.url}{prefix}/public"))["event"]
        assert (event["resource"], event["path"], event["httpMethod"]) == ("/public", "/public", "GET")
        assert event["requestContext"]["path"] == "/test/public"
        assert event["requestContext"]["stage"] == "test"
    assert echoed(api.get(f"{gateway.url}/test"))["event"]["resource"] == "/"
    assert echoed(api.get(f"{gateway.url}/"))["event"]["resource"] == "/"
    assert echoed(api.get(f"{gateway.url}/public/"))["event"]["resource"] == "/public"


def test_a_literal_segment_beats_a_path_parameter(gateway, api):
    special = api.get(f"{gateway.url}/items/special")
    assert special.headers["X-Function"] == "other-from-env-vars"
    event = echoed(api.get(f"{gateway.url}/items/a%20b", headers=token("allow")))["event"]
    assert event["resource"] == "/items/{item_id}"
    assert event["path"] == "/items/a%20b"  # REST APIs keep the path encoded...
    assert event["pathParameters"] == {"item_id": "a b"}  # ...and decode the parameters


def test_greedy_proxy_takes_the_rest_of_the_path_for_any_method(gateway, api):
    event = echoed(api.get(f"{gateway.url}/files/a/b/c.txt"))["event"]
    assert event["resource"] == "/files/{proxy+}"
    assert event["pathParameters"] == {"proxy": "a/b/c.txt"}
    assert echoed(api.delete(f"{gateway.url}/test/files/x"))["event"]["httpMethod"] == "DELETE"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/nope"),
        ("GET", "/test/nope"),
        ("POST", "/items/special"),
        ("DELETE", "/echo"),
        ("GET", "/files"),
    ],
)
def test_unknown_route_or_method_is_missing_authentication_token(gateway, method, path):
    # No token either: route matching happens before the authorizer, as in API Gateway.
    status, headers, body = call(gateway, method, path)
    assert (status, body) == (404, b'{"detail": "Not found"}')
    headers = dict(headers)
    assert headers["Content-Type"] == "application/json"
    assert headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_without_template_gateway_responses_api_gateway_defaults_apply(stack):
    bare = LocalGateway(dataclasses.replace(stack, gateway_responses={}), env=ENV, port=0).start()
    try:
        assert call(bare, "GET", "/nope")[::2] == (403, b'{"message": "Missing Authentication Token"}')
        assert call(bare, "GET", "/echo")[::2] == (401, b'{"message": "Unauthorized"}')
    finally:
        bare.stop()


# --- the proxy event -------------------------------------------------------------------------


def test_query_strings_and_repeated_headers_in_the_event(gateway):
    status, _, body = call(
        gateway,
        "GET",
        "/public?a=1&a=2&empty=&sp=x%20y",
        headers=[("X-Multi", "first"), ("X-Multi", "second"), ("User-Agent", "tests/1.0")],
    )
    assert status == 200
    event = json.loads(body)["event"]
    assert event["queryStringParameters"] == {"a": "2", "empty": "", "sp": "x y"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "empty": [""], "sp": ["x y"]}
    assert event["headers"]["X-Multi"] == "second"
    assert event["multiValueHeaders"]["X-Multi"] == ["first", "second"]
    assert event["headers"]["User-Agent"] == "tests/1.0"
    assert event["headers"]["X-Forwarded-Proto"] == "http"
    assert event["headers"]["X-Amzn-Trace-Id"].startswith("Root=1-")


def test_absent_parts_are_null_as_in_api_gateway(gateway, api):
    event = echoed(api.get(f"{gateway.url}/public"))["event"]
    for key in (
        "queryStringParameters",
        "multiValueQueryStringParameters",
        "pathParameters",
        "stageVariables",
        "body",
    ):
        assert event[key] is None, key
    assert event["isBase64Encoded"] is False


def test_request_context(gateway, api):
    before = int(time.time() * 1000)
    resp = api.get(f"{gateway.url}/public", headers={"User-Agent": "ctx-test"})
    ctx = echoed(resp)["event"]["requestContext"]
    assert ctx["requestId"] == resp.headers["x-amzn-RequestId"]
    uuid.UUID(ctx["requestId"])
    assert ctx["accountId"] == "000000000000"
    assert ctx["apiId"] == gateway.api_id and re.fullmatch(r"[a-z0-9]{10}", ctx["apiId"])
    assert (ctx["resourcePath"], ctx["httpMethod"], ctx["stage"], ctx["protocol"]) == (
        "/public",
        "GET",
        "test",
        "HTTP/1.1",
    )
    assert re.fullmatch(r"[0-9a-f]{6}", ctx["resourceId"])
    assert re.fullmatch(r"[A-Za-z0-9+/]{11}=", ctx["extendedRequestId"])
    assert before <= ctx["requestTimeEpoch"] <= int(time.time() * 1000)
    time.strptime(ctx["requestTime"], "%d/%b/%Y:%H:%M:%S +0000")
    assert ctx["domainName"] == f"127.0.0.1:{gateway.port}"
    assert ctx["identity"]["sourceIp"] == "127.0.0.1"
    assert ctx["identity"]["userAgent"] == "ctx-test"
    assert "authorizer" not in ctx  # a route without an authorizer gets none


def test_text_body_is_passed_as_is(gateway, api):
    event = echoed(
        api.post(
            f"{gateway.url}/public",
            data='{"name": "é"}'.encode(),
            headers={"Content-Type": "application/json"},
        )
    )["event"]
    assert (event["body"], event["isBase64Encoded"]) == ('{"name": "é"}', False)


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        (b"\xff\xfe\x00binary", "application/json"),
        (b"valid utf-8 but binary type", "application/octet-stream"),
    ],
)
def test_binary_body_is_base64_encoded(gateway, api, payload, content_type):
    event = echoed(api.post(f"{gateway.url}/public", data=payload, headers={"Content-Type": content_type}))["event"]
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == payload


def test_chunked_request_body_is_reassembled(gateway):
    conn = http.client.HTTPConnection(gateway.host, gateway.port, timeout=5)
    try:
        conn.request(
            "POST",
            "/public",
            body=iter([b'{"a": ', b"1}"]),
            encode_chunked=True,
            headers={"Transfer-Encoding": "chunked"},
        )
        resp = conn.getresponse()
        event = json.loads(resp.read())["event"]
    finally:
        conn.close()
    assert (resp.status, event["body"]) == (200, '{"a": 1}')


def test_body_over_10_mb_is_request_too_large(gateway):
    status, _, body = call(gateway, "POST", "/public", body=b"x" * (10 * 1024 * 1024 + 1))
    assert status == 413
    # The fixture template does not customise REQUEST_TOO_LARGE, so DEFAULT_4XX renders it.
    assert body == b'{"detail": "Request Too Long", "type": "REQUEST_TOO_LARGE"}'


def test_oversized_body_is_refused_before_it_is_sent(gateway):
    with socket.create_connection((gateway.host, gateway.port), timeout=5) as sock:
        sock.sendall(b"POST /public HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\nExpect: 100-continue\r\n\r\n")
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"Connection: close" in head


# --- proxy responses -------------------------------------------------------------------------


def test_response_headers_merge_like_api_gateway(gateway):
    status, headers, body = call(gateway, "GET", "/shape/headers")
    assert (status, body) == (201, b"{}")
    assert [v for k, v in headers if k == "Set-Cookie"] == ["a=1", "b=2"]
    # A header in both maps keeps only its multiValueHeaders values.
    assert [v for k, v in headers if k == "X-Both"] == ["m1", "m2"]
    named = dict(headers)
    assert (named["X-Single"], named["X-Number"], named["X-Flag"]) == ("one", "7", "true")
    assert named["Content-Type"] == "application/json"


def test_response_bodies_types_and_statuses(gateway, api):
    text = api.get(f"{gateway.url}/shape/text")
    assert (text.status_code, text.headers["Content-Type"], text.text) == (200, "text/plain", "plain text")
    binary = api.get(f"{gateway.url}/shape/binary")
    assert (binary.headers["Content-Type"], binary.content) == ("image/png", b"\x89PNG\x00\xff")
    assert api.get(f"{gateway.url}/shape/string-status").status_code == 202
    no_body = api.get(f"{gateway.url}/shape/no-body")
    assert (no_body.status_code, no_body.content) == (204, b"")


@pytest.mark.parametrize(
    ("kind", "logged"),
    [
        ("missing-status", "Malformed Lambda proxy response"),
        ("extra-key", "Malformed Lambda proxy response"),
        ("dict-body", "Malformed Lambda proxy response"),
        ("bad-header", "Malformed Lambda proxy response"),
        ("not-object", "Malformed Lambda proxy response"),
        ("unserializable", "[ShapeFunction] [ERROR] Runtime.MarshalError: Unable to marshal response"),
    ],
)
def test_invalid_proxy_response_is_502(gateway, api, logs, kind, logged):
    mark = logs.mark()
    resp = api.get(f"{gateway.url}/shape/{kind}")
    assert (resp.status_code, resp.json()) == (502, {"detail": "Internal server error"})
    assert resp.headers["Content-Type"] == "application/json"
    assert any(logged in line for line in logs.since(mark))


def test_unhandled_exception_is_502_with_the_traceback_in_the_logs(gateway, api, logs):
    mark = logs.mark()
    resp = api.get(f"{gateway.url}/boom")
    assert (resp.status_code, resp.json()) == (502, {"detail": "Internal server error"})
    lines = logs.since(mark)
    assert "[BoomFunction] [ERROR] ValueError: kaboom" in lines
    assert "[BoomFunction] Traceback (most recent call last):" in lines
    assert any('boom/app.py", line 2, in lambda_handler' in line for line in lines)


def test_a_module_outside_code_uri_and_layers_cannot_be_imported(gateway, api, logs):
    # podgate_local is importable in the test process; a function must not see it, as in Lambda.
    mark = logs.mark()
    assert api.get(f"{gateway.url}/broken").status_code == 502
    assert (
        "[BrokenFunction] [ERROR] Runtime.ImportModuleError: Unable to import module 'app': "
        "No module named 'podgate_local'"
    ) in logs.since(mark)


# --- TOKEN authorizer ------------------------------------------------------------------------


def authorizer(gateway, name="TokenAuth"):
    return gateway.authorizers[name]


def test_missing_token_is_401_without_invoking_the_authorizer(gateway, api):
    calls = authorizer(gateway).invocations
    resp = api.get(f"{gateway.url}/echo", headers={"Origin": "https://app.example"})
    assert (resp.status_code, resp.json()) == (401, {"detail": "Unauthorized"})
    assert resp.headers["WWW-Authenticate"] == "Bearer"
    assert resp.headers["Access-Control-Allow-Origin"] == "https://app.example"
    assert api.get(f"{gateway.url}/echo", headers={"X-Token": ""}).status_code == 401
    assert authorizer(gateway).invocations == calls


@pytest.mark.parametrize("value", ["Basic allow", "Bearer BAD!", "Bearer allow extra", "bearer allow"])
def test_token_failing_the_validation_expression_is_401_without_invoking(gateway, api, value):
    calls = authorizer(gateway).invocations
    assert api.get(f"{gateway.url}/echo", headers={"X-Token": value}).status_code == 401
    assert authorizer(gateway).invocations == calls


def test_allow_passes_principal_and_context_as_strings(gateway, api):
    resp = api.get(f"{gateway.url}/echo", headers={"x-token": "Bearer context-check"})  # any header case
    auth = echoed(resp)["event"]["requestContext"]["authorizer"]
    assert auth.pop("integrationLatency") >= 0
    assert auth == {
        "principalId": "user-context-check",
        "word": "context-check",
        "calls": auth["calls"],
        "admin": "false",
        "ratio": "0.5",
    }
    assert auth["calls"].isdigit()


def test_authorizer_receives_a_token_event_with_the_method_arn(gateway, api, logs):
    mark = logs.mark()
    assert api.get(f"{gateway.url}/test/items/abc", headers=token("arn-check")).status_code == 200
    arn = f"arn:aws:execute-api:{REGION}:000000000000:{gateway.api_id}/test/GET/items/abc"
    assert any(
        line.startswith("[AuthorizerFunction] authorizer call ") and line.endswith(arn) for line in logs.since(mark)
    )


def test_raising_unauthorized_is_401_and_not_cached(gateway, api):
    calls = authorizer(gateway).invocations
    for _ in range(2):
        resp = api.get(f"{gateway.url}/echo", headers=token("unauthorized"))
        assert (resp.status_code, resp.json()) == (401, {"detail": "Unauthorized"})
    assert authorizer(gateway).invocations == calls + 2


def test_explicit_deny_wins_and_the_cached_policy_is_reevaluated_per_route(gateway, api):
    calls = authorizer(gateway).invocations
    denied = api.get(f"{gateway.url}/echo", headers=token("deny-echo"))
    assert (denied.status_code, denied.json()) == (
        403,
        {
            "detail": "User is not authorized to access this resource with an explicit deny",
            "type": "ACCESS_DENIED",
        },
    )
    assert denied.headers["x-amzn-ErrorType"] == "AccessDeniedException"
    # Same token, another route: the cached policy allows it, with no second invocation.
    assert api.get(f"{gateway.url}/items/x", headers=token("deny-echo")).status_code == 200
    assert authorizer(gateway).invocations == calls + 1


def test_cached_allow_for_one_route_does_not_open_another(gateway, api):
    calls = authorizer(gateway).invocations
    assert api.get(f"{gateway.url}/echo", headers=token("echo-only")).status_code == 200
    other = api.get(f"{gateway.url}/items/abc", headers=token("echo-only"))
    assert (other.status_code, other.json()["detail"]) == (
        403,
        "User is not authorized to access this resource",
    )
    assert authorizer(gateway).invocations == calls + 1


def test_policy_as_single_statement_with_wildcards(gateway, api):
    # Resource .../*/GET/items/? matches one-character item ids only.
    assert api.get(f"{gateway.url}/items/x", headers=token("single")).status_code == 200
    assert api.get(f"{gateway.url}/items/xy", headers=token("single")).status_code == 403


def test_no_matching_allow_is_403(gateway, api):
    assert api.get(f"{gateway.url}/echo", headers=token("nothing")).status_code == 403


@pytest.mark.parametrize("word", ["crash", "no-principal", "no-policy", "bad-context", "bad-statement"])
def test_failing_or_malformed_authorizer_is_500(gateway, api, word):
    resp = api.get(f"{gateway.url}/echo", headers=token(word))
    assert (resp.status_code, resp.json()) == (500, {"detail": "Internal server error"})
    assert resp.headers["x-amzn-ErrorType"] == "AuthorizerConfigurationException"
    # A failure is never cached as a decision.
    assert api.get(f"{gateway.url}/echo", headers=token(word)).status_code == 500


def test_cache_hits_until_the_ttl_expires(gateway, api, clock):
    auth = authorizer(gateway)
    calls = auth.invocations
    first = echoed(api.get(f"{gateway.url}/echo", headers=token("cache-me")))["event"]["requestContext"]["authorizer"]
    second = echoed(api.get(f"{gateway.url}/echo", headers=token("cache-me")))["event"]["requestContext"]["authorizer"]
    assert auth.invocations == calls + 1
    assert second["calls"] == first["calls"]
    assert second["integrationLatency"] == 0
    clock.now += 60  # ReauthorizeEvery: 60
    third = echoed(api.get(f"{gateway.url}/echo", headers=token("cache-me")))["event"]["requestContext"]["authorizer"]
    assert auth.invocations == calls + 2
    assert int(third["calls"]) > int(first["calls"])


def test_ttl_zero_invokes_the_authorizer_every_time(gateway, api):
    auth = authorizer(gateway, "UncachedAuth")
    calls = auth.invocations
    for _ in range(2):
        assert api.get(f"{gateway.url}/uncached", headers=token("allow")).status_code == 200
    assert auth.invocations == calls + 2


def test_policy_evaluation_rules():
    arn = "arn:aws:execute-api:eu-west-1:000000000000:abc/test/GET/pods/p1"

    def stmt(effect, resource, action="execute-api:Invoke"):
        return {"Effect": effect, "Action": action, "Resource": resource}

    assert evaluate_policy({"Statement": [stmt("Allow", "arn:aws:execute-api:*:*:abc/*/GET/pods/*")]}, arn) == (
        True,
        False,
    )
    assert evaluate_policy({"Statement": [stmt("Allow", "*", "EXECUTE-API:invoke")]}, arn) == (True, False)
    assert evaluate_policy({"Statement": [stmt("Allow", "*", "s3:*")]}, arn) == (False, False)
    assert evaluate_policy({"Statement": [stmt("Allow", "*"), stmt("Deny", [arn])]}, arn) == (False, True)
    assert evaluate_policy({"Statement": []}, arn) == (False, False)
    assert evaluate_policy({"Statement": stmt("Allow", "*/GET/pods/p?")}, arn) == (True, False)
    assert evaluate_policy({"Statement": stmt("Allow", "*/GET/pods/p??")}, arn) == (False, False)
    for malformed in (
        {},
        {"Statement": "x"},
        {"Statement": [stmt("Permit", "*")]},
        {"Statement": [stmt("Allow", [])]},
    ):
        with pytest.raises(MalformedPolicy):
            evaluate_policy(malformed, arn)


# --- CORS preflight (SAM's Cors) -------------------------------------------------------------


def preflight(gw: LocalGateway, path: str, headers=()):
    return call(
        gw,
        "OPTIONS",
        path,
        headers=[("Origin", "https://app.example"), ("Access-Control-Request-Method", "GET"), *headers],
    )


def invocation_lines(lines: list[str]) -> list[str]:
    return [line for line in lines if " START RequestId: " in line]


@pytest.mark.parametrize(
    ("path", "methods"),
    [
        ("/echo", "GET,OPTIONS"),  # an authorizer route: the preflight still needs no token
        ("/test/echo", "GET,OPTIONS"),
        ("/items/abc", "GET,OPTIONS"),
        ("/items/special", "GET,OPTIONS"),
        ("/", "GET,OPTIONS"),
        # A path with ANY: SAM lists every method, and its OPTIONS method beats ANY.
        ("/public", "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"),
        ("/files/a/b", "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"),
    ],
)
def test_preflight_is_answered_by_the_gateway_without_authorizer_or_lambda(gateway, logs, path, methods):
    calls = authorizer(gateway).invocations
    mark = logs.mark()
    status, headers, body = preflight(gateway, path)
    assert (status, body) == (200, b"")
    named = dict(headers)
    assert named["Access-Control-Allow-Origin"] == CORS_ORIGIN  # the template's value, unquoted
    assert named["Access-Control-Allow-Headers"] == "X-Token,Content-Type"
    assert named["Access-Control-Allow-Methods"] == methods
    assert named["Access-Control-Max-Age"] == "300"
    assert "Access-Control-Allow-Credentials" not in named  # only with AllowCredentials: true
    assert named["Content-Type"] == "application/json"
    uuid.UUID(named["x-amzn-RequestId"])
    assert "x-amzn-ErrorType" not in named
    assert authorizer(gateway).invocations == calls
    assert invocation_lines(logs.since(mark)) == []  # MOCK integration: no function ran


def test_preflight_ignores_a_token_and_its_validation(gateway):
    calls = authorizer(gateway).invocations
    uncached_calls = authorizer(gateway, "UncachedAuth").invocations
    assert preflight(gateway, "/echo", headers=[("X-Token", "not valid at all")])[0] == 200
    assert preflight(gateway, "/uncached", headers=[("X-Token", "Bearer allow")])[0] == 200
    assert authorizer(gateway).invocations == calls
    assert authorizer(gateway, "UncachedAuth").invocations == uncached_calls


@pytest.mark.parametrize("path", ["/nope", "/test/nope", "/items", "/items/a/b"])
def test_preflight_on_an_unknown_path_is_missing_authentication_token(gateway, path):
    status, headers, body = preflight(gateway, path)
    assert (status, body) == (404, b'{"detail": "Not found"}')
    named = dict(headers)
    assert named["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert named["Access-Control-Allow-Origin"] == CORS_ORIGIN
    assert "Access-Control-Allow-Methods" not in named


def test_an_explicit_options_route_keeps_its_function(gateway, logs):
    mark = logs.mark()
    status, headers, body = preflight(gateway, "/custom-options")
    assert status == 200
    assert dict(headers)["X-Function"] == "echo"
    event = json.loads(body)["event"]
    assert (event["httpMethod"], event["resource"]) == ("OPTIONS", "/custom-options")
    assert "Access-Control-Allow-Methods" not in dict(headers)
    assert len(invocation_lines(logs.since(mark))) == 1


def test_without_cors_options_is_an_unknown_method(stack):
    gw = LocalGateway(dataclasses.replace(stack, cors=None), env=ENV, port=0, throttle=False).start()
    try:
        status, _, body = preflight(gw, "/echo")
        assert (status, body) == (404, b'{"detail": "Not found"}')
    finally:
        gw.stop()


def test_preflight_runs_the_default_authorizer_when_the_template_asks_for_it(stack):
    # SAM's default is AddDefaultAuthorizerToCorsPreflight: true (the fixture, like podgate, says false).
    cors = dataclasses.replace(stack.cors, authorizer="TokenAuth", allow_credentials=True)
    gw = LocalGateway(dataclasses.replace(stack, cors=cors), env=ENV, port=0, log_sink=Logs(), throttle=False).start()
    try:
        status, headers, body = preflight(gw, "/public")  # a NONE route: the preflight still needs the token
        assert (status, json.loads(body)) == (401, {"detail": "Unauthorized"})
        assert gw.authorizers["TokenAuth"].invocations == 0
        status, headers, body = preflight(gw, "/public", headers=[("X-Token", "Bearer allow")])
        assert (status, body) == (200, b"")
        assert dict(headers)["Access-Control-Allow-Credentials"] == "true"
        assert gw.authorizers["TokenAuth"].invocations == 1
    finally:
        gw.stop()


# --- gateway responses carry the template's ResponseParameters headers -----------------------

ORIGIN = [("Origin", "https://app.example")]


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "error_type", "allow_origin"),
    [
        # UNAUTHORIZED maps the header from the request (method.request.header.Origin)...
        ("GET", "/echo", [], 401, "UnauthorizedException", "https://app.example"),
        ("GET", "/echo", [("X-Token", "Basic nope")], 401, "UnauthorizedException", "https://app.example"),
        ("GET", "/echo", [("X-Token", "Bearer unauthorized")], 401, "UnauthorizedException", "https://app.example"),
        # ...the others are literals, through DEFAULT_4XX / DEFAULT_5XX where not customised.
        ("GET", "/echo", [("X-Token", "Bearer nothing")], 403, "AccessDeniedException", CORS_ORIGIN),
        ("GET", "/nope", [], 404, "MissingAuthenticationTokenException", CORS_ORIGIN),
        ("PUT", "/echo", [], 404, "MissingAuthenticationTokenException", CORS_ORIGIN),
        ("GET", "/echo", [("X-Token", "Bearer crash")], 500, "AuthorizerConfigurationException", CORS_ORIGIN),
        ("GET", "/boom", [], 502, "InternalServerErrorException", CORS_ORIGIN),
        ("GET", "/shape/not-object", [], 502, "InternalServerErrorException", CORS_ORIGIN),
    ],
)
def test_gateway_responses_carry_their_cors_header(gateway, method, path, headers, status, error_type, allow_origin):
    got_status, got_headers, _ = call(gateway, method, path, headers=[*ORIGIN, *headers])
    named = dict(got_headers)
    assert (got_status, named["x-amzn-ErrorType"]) == (status, error_type)
    assert named["Access-Control-Allow-Origin"] == allow_origin


def test_request_too_large_carries_its_cors_header(gateway):
    status, headers, _ = call(gateway, "POST", "/public", headers=ORIGIN, body=b"x" * (10 * 1024 * 1024 + 1))
    assert status == 413
    assert dict(headers)["Access-Control-Allow-Origin"] == CORS_ORIGIN
    with socket.create_connection((gateway.host, gateway.port), timeout=5) as sock:
        sock.sendall(b"POST /public HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\nExpect: 100-continue\r\n\r\n")
        head = sock.recv(65536)
    assert head.startswith(b"HTTP/1.1 413 ")
    assert f"Access-Control-Allow-Origin: {CORS_ORIGIN}\r\n".encode() in head


def test_an_internal_gateway_error_carries_its_cors_header(stack, monkeypatch):
    gw = LocalGateway(stack, env=ENV, port=0, log_sink=Logs(), throttle=False).start()
    try:

        def broken(path):
            raise RuntimeError("router bug")

        monkeypatch.setattr(gw.router, "match", broken)
        resp = requests.get(f"{gw.url}/public", timeout=5)
        assert (resp.status_code, resp.json()) == (500, {"detail": "Internal server error"})
        assert resp.headers["Access-Control-Allow-Origin"] == CORS_ORIGIN
    finally:
        gw.stop()


# --- protocol errors: JSON gateway responses, never http.server's HTML pages -----------------


def exchange(gw: LocalGateway, data: bytes, *, timeout: float = 5) -> tuple[int | None, dict[str, str], bytes]:
    """Send bytes exactly as given over a raw socket and read until the server closes.

    (None, {}, everything) when the answer has no status line."""
    with socket.create_connection((gw.host, gw.port), timeout=timeout) as sock:
        sock.sendall(data)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    match = re.match(rb"HTTP/1\.[01] (\d{3}) [^\r\n]*\r\n", received)
    if match is None:
        return None, {}, received
    head, _, body = received.partition(b"\r\n\r\n")
    headers = dict(line.split(": ", 1) for line in head.decode("latin-1").split("\r\n")[1:])
    return int(match.group(1)), headers, body


def assert_json_error(answer, status: int, detail: str) -> dict[str, str]:
    got_status, headers, body = answer
    assert got_status == status, body[:300]
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["detail"] == detail
    assert int(headers["Content-Length"]) == len(body)
    assert headers["Connection"] == "close"
    # The fixture's DEFAULT_4XX renders them, with its literal CORS header.
    assert headers["Access-Control-Allow-Origin"] == CORS_ORIGIN
    assert headers["x-amzn-RequestId"]
    return headers


TOO_MANY_HEADERS = "".join(f"X-H{i}: {i}\r\n" for i in range(101))


def test_a_request_line_over_64_kib_is_414(gateway):
    answer = exchange(gateway, b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert_json_error(answer, 414, "Request-URI too long")


@pytest.mark.parametrize(
    "header_block",
    [TOO_MANY_HEADERS, "X-Big: " + "b" * 70_000 + "\r\n"],
    ids=["over-100-headers", "70-kB-header-line"],
)
def test_an_oversized_header_block_is_431(gateway, header_block):
    answer = exchange(gateway, f"GET /public HTTP/1.1\r\nHost: x\r\n{header_block}\r\n".encode())
    assert_json_error(answer, 431, "Request header fields too large")


@pytest.mark.parametrize(
    "request_line",
    [
        b"garbage",
        b"GET / HTTP/9.9",
        b"GET / HTTP/2.0",
        b"GET / HTTX/1.1",
        b"GET / HTTP/1.x",
        b"GET /a b HTTP/1.1",
        b"GET /public",  # HTTP/0.9: http.server answers it without status line or headers
        b"POST /public",
    ],
)
def test_a_malformed_request_line_is_400(gateway, request_line):
    answer = exchange(gateway, request_line + b"\r\nHost: x\r\n\r\n")
    assert_json_error(answer, 400, "Bad request")


@pytest.mark.parametrize("method", ["TRACE", "BREW", "get", "PROPFIND"])
@pytest.mark.parametrize("path", ["/public", "/files/a", "/echo", "/nope"])  # ANY, ANY, GET, nothing
def test_a_method_api_gateway_does_not_support_is_missing_authentication_token(gateway, logs, method, path):
    mark = logs.mark()
    status, headers, body = call(gateway, method, path, headers=ORIGIN)
    assert (status, body) == (404, b'{"detail": "Not found"}')
    named = dict(headers)
    assert named["Content-Type"] == "application/json"
    assert named["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"
    assert named["Access-Control-Allow-Origin"] == CORS_ORIGIN
    assert invocation_lines(logs.since(mark)) == []  # ANY does not cover them


def test_connect_and_an_unknown_method_keep_the_connection_usable(gateway):
    request = (
        b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n"
        b"BREW /public HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\n\r\ncoffee"
        b"GET /public HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    with socket.create_connection((gateway.host, gateway.port), timeout=5) as sock:
        sock.sendall(request)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) [\w ]+\r\nDate: ", received)
    assert statuses == [b"404", b"404", b"200"]
    assert received.count(b'{"detail": "Not found"}') == 2


@pytest.mark.parametrize(
    "chunked",
    [
        b"zz\r\nhello\r\n0\r\n\r\n",
        b"-1\r\nhello\r\n0\r\n\r\n",
        b"+5\r\nhello\r\n0\r\n\r\n",
        b"0x5\r\nhello\r\n0\r\n\r\n",
        b"\r\n",
        b"5\r\nhelloXX\r\n0\r\n\r\n",  # no CRLF after the chunk's data
        b"5\r\nhel",  # the client gives up half way
    ],
)
def test_invalid_chunked_encoding_is_400_with_one_clean_log_line(gateway, logs, capfd, chunked):
    capfd.readouterr()
    mark = logs.mark()
    head = b"POST /public HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
    with socket.create_connection((gateway.host, gateway.port), timeout=5) as sock:
        sock.sendall(head + chunked)
        if not chunked.endswith(b"\r\n\r\n"):
            sock.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := sock.recv(65536):
            received += chunk
    status, headers, body = (
        int(received[9:12]),
        received.partition(b"\r\n\r\n")[0],
        received.partition(b"\r\n\r\n")[2],
    )
    assert (status, json.loads(body)["detail"]) == (400, "Bad request"), received
    assert b"Content-Type: application/json\r\n" in headers
    assert b"Connection: close\r\n" in headers
    time.sleep(0.05)  # the handler thread has answered; give a traceback time to show up, if any
    gateway_lines = [line for line in logs.since(mark) if line.startswith("[ApiGateway]")]
    assert len(gateway_lines) == 1 and "400" in gateway_lines[0], gateway_lines
    assert invocation_lines(logs.since(mark)) == []
    err = capfd.readouterr().err
    assert "Traceback" not in err and "ValueError" not in err


@pytest.mark.parametrize("value", ["abc", "-1", "+5", "5, 5", "\u00b2"])  # "²" is a digit to str.isdigit
def test_an_invalid_content_length_is_400(gateway, value):
    request = f"POST /public HTTP/1.1\r\nHost: x\r\nContent-Length: {value}\r\n\r\nhello".encode("latin-1")
    assert_json_error(exchange(gateway, request), 400, "Bad request")


def test_an_invalid_content_length_with_expect_100_is_400_before_the_body(gateway):
    request = b"POST /public HTTP/1.1\r\nHost: x\r\nContent-Length: lots\r\nExpect: 100-continue\r\n\r\n"
    assert_json_error(exchange(gateway, request), 400, "Bad request")


def test_podgate_protocol_errors_are_detail_json_with_the_allowed_origin(podgate_gateway):
    gw, _ = podgate_gateway
    for request, status, body in [
        (b"garbage\r\n\r\n", 400, {"detail": "Bad request"}),
        (b"GET / HTTP/9.9\r\n\r\n", 400, {"detail": "Bad request"}),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", 414, {"detail": "Request-URI too long"}),
        (f"GET /pods HTTP/1.1\r\n{TOO_MANY_HEADERS}\r\n".encode(), 431, {"detail": "Request header fields too large"}),
        (b"POST /auth HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 400, {"detail": "Bad request"}),
        (b"TRACE /pods HTTP/1.1\r\nConnection: close\r\n\r\n", 404, {"detail": "Not found"}),
    ]:
        got_status, headers, got_body = exchange(gw, request)
        assert (got_status, json.loads(got_body)) == (status, body), request[:40]
        assert headers["Content-Type"] == "application/json"
        assert headers["Access-Control-Allow-Origin"] == "*"


# --- logs never carry query values or header values -------------------------------------------

SECRET = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJzZWNyZXQifQ.c2lnbmF0dXJlLXNlY3JldA"


@pytest.fixture
def logged_gateway(stack):
    access, log = Logs(), Logs()
    gw = LocalGateway(stack, env=ENV, port=0, log_sink=log, access_log=access, throttle=False).start()
    yield gw, access, log
    gw.stop()


def test_the_access_log_keeps_query_names_and_drops_their_values(logged_gateway):
    gw, access, _ = logged_gateway
    assert call(gw, "GET", f"/echo?access_token={SECRET}")[0] == 401
    assert call(gw, "GET", f"/test/public?access_token={SECRET}&a=1&flag&{SECRET}&x%5B%5D=&&b=2")[0] == 200
    assert call(gw, "GET", f"/nope?token={SECRET}")[0] == 404
    assert call(gw, "GET", "/public")[0] == 200
    lines = access.since(0)
    assert len(lines) == 4
    assert '"GET /echo?access_token=*** HTTP/1.1" 401 ' in lines[0]
    assert '"GET /test/public?access_token=***&a=***&***&***&x%5B%5D=***&&b=*** HTTP/1.1" 200 ' in lines[1]
    assert '"GET /nope?token=*** HTTP/1.1" 404 ' in lines[2]
    assert '"GET /public HTTP/1.1" 200 ' in lines[3]


def test_a_token_in_the_query_or_a_header_never_reaches_the_logs(logged_gateway):
    gw, access, log = logged_gateway
    secret_headers = [("X-Token", f"Bearer {SECRET}"), ("Cookie", f"session={SECRET}"), ("X-Api-Key", SECRET)]
    assert call(gw, "GET", f"/echo?access_token={SECRET}", headers=secret_headers)[0] == 401
    assert call(gw, "GET", f"/public?access_token={SECRET}", headers=secret_headers)[0] == 200
    assert call(gw, "GET", f"/boom?access_token={SECRET}", headers=secret_headers)[0] == 502
    assert call(gw, "TRACE", f"/public?access_token={SECRET}", headers=secret_headers)[0] == 404
    assert call(gw, "GET", f"/public?{SECRET}")[0] == 200  # a bare value, no name
    assert call(gw, "GET", f"/public?{SECRET[:40]}==")[0] == 200  # base64 padding: looks like name=value
    q = f"access_token={SECRET}"
    for raw_request, status in [
        (f"GET http://user:{SECRET}@localhost/public?{q} HTTP/1.1\r\nConnection: close\r\n\r\n", 200),
        (f"GET /public?{q} HTTP/1.1\r\n{TOO_MANY_HEADERS}\r\n", 431),
        (f"GET /public?{q} HTTP/1.1\r\nX-Big: {SECRET * 2000}\r\n\r\n", 431),
        (f"POST /public?{q} HTTP/1.1\r\nTransfer-Encoding: chunked\r\nX-Token: {SECRET}\r\n\r\nzz\r\n", 400),
        (f"POST /public?{q} HTTP/1.1\r\nContent-Length: {SECRET}\r\n\r\n", 400),
        (f"GET /public?{q} {SECRET} HTTP/1.1\r\n\r\n", 400),
        (f"GET /public?{q} HTTP/{SECRET}\r\n\r\n", 400),
        (f"GET /public?{q}\r\n\r\n", 400),
    ]:
        assert exchange(gw, raw_request.encode())[0] == status, raw_request[:60]
    time.sleep(0.05)
    everything = "\n".join(access.since(0) + log.since(0))
    assert len(access.since(0)) == 14
    for fragment in (SECRET, *SECRET.split("."), SECRET[:40]):
        assert fragment not in everything
    assert any(" START RequestId: " in line for line in log.since(0))  # the sink did get the functions' lines


def test_the_access_log_escapes_control_characters(logged_gateway):
    gw, access, _ = logged_gateway
    assert exchange(gw, b"GET /nope\x1b[2J\x07 HTTP/1.1\r\nConnection: close\r\n\r\n")[0] == 404
    (line,) = access.since(0)
    assert "\x1b" not in line and "\x07" not in line
    assert r"/nope\x1b[2J\x07" in line


# --- throttling (MethodSettings) -------------------------------------------------------------


@pytest.fixture
def throttled(stack):
    """A gateway with the fixture's own limits (rate 2/s, burst 3) on a clock the test moves."""
    clock = FakeClock()
    gw = LocalGateway(stack, env=ENV, port=0, log_sink=Logs(), clock=clock).start()
    yield gw, clock
    gw.stop()


def test_burst_then_429_with_the_template_gateway_response(throttled):
    gw, _ = throttled
    assert [preflight(gw, "/echo")[0] for _ in range(3)] == [200, 200, 200]
    status, headers, body = preflight(gw, "/echo")
    assert status == 429
    # The fixture does not customise THROTTLED: DEFAULT_4XX renders it, with its header.
    assert json.loads(body) == {"detail": "Too Many Requests", "type": "THROTTLED"}
    named = dict(headers)
    assert named["x-amzn-ErrorType"] == "TooManyRequestsException"
    assert named["Access-Control-Allow-Origin"] == CORS_ORIGIN
    assert "Retry-After" not in named  # API Gateway sends none


def test_tokens_come_back_at_the_rate_up_to_the_burst(throttled):
    gw, clock = throttled
    assert [preflight(gw, "/echo")[0] for _ in range(4)] == [200, 200, 200, 429]
    clock.now += 0.25  # half a token at 2/s
    assert preflight(gw, "/echo")[0] == 429
    clock.now += 0.25
    assert [preflight(gw, "/echo")[0] for _ in range(2)] == [200, 429]
    clock.now += 3600  # a long pause refills to the burst, never beyond
    assert [preflight(gw, "/echo")[0] for _ in range(4)] == [200, 200, 200, 429]


def test_each_method_has_its_own_bucket(throttled):
    gw, _ = throttled
    assert [preflight(gw, "/echo")[0] for _ in range(4)] == [200, 200, 200, 429]
    # Same resource, another method; another resource, same method: full buckets.
    assert call(gw, "GET", "/echo")[0] == 401
    assert preflight(gw, "/items/special")[0] == 200
    assert preflight(gw, "/test/echo")[0] == 429  # the stage prefix is the same method


def test_throttling_comes_before_the_authorizer(throttled):
    gw, _ = throttled
    auth = gw.authorizers["TokenAuth"]
    # Refused requests take tokens too: the bucket is checked first.
    assert [call(gw, "GET", "/echo")[0] for _ in range(3)] == [401, 401, 401]
    status, _, body = call(gw, "GET", "/echo", headers=[("X-Token", "Bearer allow")])
    assert (status, json.loads(body)["type"]) == (429, "THROTTLED")
    assert auth.invocations == 0


def test_unknown_routes_are_not_method_throttled(throttled):
    gw, _ = throttled
    assert {call(gw, "GET", "/nope")[0] for _ in range(10)} == {404}


def test_throttle_override_replaces_the_template_limits(stack):
    clock = FakeClock()
    gw = LocalGateway(stack, env=ENV, port=0, clock=clock, throttle=(1.0, 1)).start()
    try:
        assert [preflight(gw, "/echo")[0] for _ in range(2)] == [200, 429]
        assert gw.throttle.limits("/echo", "OPTIONS") == (1.0, 1)
    finally:
        gw.stop()
    off = LocalGateway(stack, env=ENV, port=0, clock=clock, throttle=False)
    assert off.throttle.limits("/echo", "OPTIONS") is None


def test_token_bucket():
    clock = FakeClock()
    bucket = TokenBucket(rate=10, burst=2, clock=clock)
    assert [bucket.take() for _ in range(3)] == [True, True, False]
    clock.now += 0.1
    assert (bucket.take(), bucket.take()) == (True, False)
    clock.now += 100
    assert bucket.tokens == 2
    assert not TokenBucket(rate=5, burst=0, clock=clock).take()  # a burst of 0 refuses everything
    unlimited = TokenBucket(rate=float("inf"), burst=1, clock=clock)
    assert unlimited.take() and not unlimited.take()
    clock.now += 0.001
    assert unlimited.take()


def test_method_settings_specific_beats_stage_wide_and_missing_limits_are_the_accounts():
    settings = [
        MethodSetting("/*", "*", 50.0, 100),
        MethodSetting("/~1pods~1{pod_id}", "GET", 5.0, None),
        MethodSetting("/~1pods", "*", None, 7),
    ]
    throttle = StageThrottle(settings, FakeClock())
    assert throttle.limits("/health", "GET") == (50.0, 100)
    assert throttle.limits("/pods/{pod_id}", "GET") == (5.0, 100)  # burst from the stage-wide setting
    assert throttle.limits("/pods/{pod_id}", "DELETE") == (50.0, 100)
    assert throttle.limits("/pods", "POST") == (50.0, 7)
    assert StageThrottle([MethodSetting("/", "GET", 1.0, 1)], FakeClock()).limits("/", "GET") == (1.0, 1)
    only_specific = StageThrottle([MethodSetting("/~1pods", "GET", 5.0, None)], FakeClock())
    assert only_specific.limits("/pods", "GET") == (5.0, 5000)  # the account's default burst
    assert only_specific.limits("/health", "GET") is None
    assert StageThrottle([], FakeClock()).limits("/pods", "GET") is None


# --- podgate's own template: CORS and throttling as deployed ---------------------------------


@pytest.fixture
def podgate_gateway():
    """The real template's gateway. Nothing here reaches a function, so nothing is spawned."""
    clock = FakeClock()
    gw = LocalGateway(load_stack(stack_name="gwcors"), env={"AWS_REGION": "us-east-1"}, port=0, clock=clock)
    gw.start()
    yield gw, clock
    gw.stop()


def test_podgate_preflight_headers(podgate_gateway):
    gw, _ = podgate_gateway
    for path in ("/pods", "/dev/pods/abc", "/pods/abc/stop", "/auth", "/health"):
        status, headers, body = preflight(gw, path)
        assert (status, body) == (200, b""), path
        named = dict(headers)
        assert named["Access-Control-Allow-Origin"] == "*"
        assert named["Access-Control-Allow-Headers"] == "Authorization,Content-Type,Idempotency-Key"
        assert named["Access-Control-Allow-Methods"] == "GET,POST,DELETE,OPTIONS"
        assert named["Access-Control-Max-Age"] == "600"
    assert gw.authorizers["BearerTokenAuthorizer"].invocations == 0
    assert all(pool.cold_starts == 0 for pool in gw.pools.values())


def test_podgate_gateway_responses_carry_the_allowed_origin(podgate_gateway):
    gw, _ = podgate_gateway
    for method, path, headers, status, body in [
        ("GET", "/pods", [], 401, {"detail": "Unauthorized"}),
        ("GET", "/pods", [("Authorization", "Bearer not-a-jwt")], 401, {"detail": "Unauthorized"}),
        ("GET", "/nope", [], 404, {"detail": "Not found"}),
        ("OPTIONS", "/nope", [], 404, {"detail": "Not found"}),
        ("PUT", "/pods", [], 404, {"detail": "Not found"}),
    ]:
        got_status, got_headers, got_body = call(gw, method, path, headers=headers)
        assert (got_status, json.loads(got_body)) == (status, body), (method, path)
        assert dict(got_headers)["Access-Control-Allow-Origin"] == "*", (method, path)
    assert gw.authorizers["BearerTokenAuthorizer"].invocations == 0


def test_podgate_stage_throttling_is_50_per_second_with_a_burst_of_100(podgate_gateway):
    gw, clock = podgate_gateway
    assert gw.throttle.limits("/pods", "GET") == (50.0, 100)
    assert {preflight(gw, "/health")[0] for _ in range(100)} == {200}
    status, headers, body = preflight(gw, "/health")
    assert (status, json.loads(body)) == (429, {"detail": "Too many requests"})
    assert dict(headers)["Access-Control-Allow-Origin"] == "*"
    assert "Retry-After" not in dict(headers)
    clock.now += 0.02  # one token at 50/s
    assert [preflight(gw, "/health")[0] for _ in range(2)] == [200, 429]


def test_podgate_cors_origin_parameter_reaches_preflight_and_gateway_responses():
    stack = load_stack(parameter_overrides={"CorsAllowOrigin": "https://console.example.com"}, stack_name="gwcors2")
    gw = LocalGateway(stack, env={"AWS_REGION": "us-east-1"}, port=0, throttle=False).start()
    try:
        assert dict(preflight(gw, "/pods")[1])["Access-Control-Allow-Origin"] == "https://console.example.com"
        assert dict(call(gw, "GET", "/pods")[1])["Access-Control-Allow-Origin"] == "https://console.example.com"
    finally:
        gw.stop()


# --- the Lambda runtime ----------------------------------------------------------------------


def test_module_state_survives_in_a_warm_container_and_differs_between_functions(gateway, api):
    first = echoed(api.get(f"{gateway.url}/public"))
    second = echoed(api.get(f"{gateway.url}/public"))
    assert second["pid"] == first["pid"]
    assert second["invocations"] == first["invocations"] + 1
    other = echoed(api.get(f"{gateway.url}/items/special"))
    assert other["pid"] != first["pid"]
    assert other["invocations"] < second["invocations"]


def test_lambda_context(gateway, api):
    body = echoed(api.get(f"{gateway.url}/public"))
    ctx = body["context"]
    assert ctx["function_name"] == "gwtest-EchoFunction"
    assert ctx["function_version"] == "$LATEST"
    assert ctx["invoked_function_arn"] == f"arn:aws:lambda:{REGION}:000000000000:function:gwtest-EchoFunction"
    assert ctx["memory_limit_in_mb"] == "128"  # a string, as awslambdaric gives it
    assert ctx["log_group_name"] == "/aws/lambda/gwtest-EchoFunction"
    assert ctx["log_stream_name"] == body["environ"]["AWS_LAMBDA_LOG_STREAM_NAME"]
    assert 0 < ctx["remaining_ms"] <= 1000  # Timeout: 1
    uuid.UUID(ctx["aws_request_id"])
    assert echoed(api.get(f"{gateway.url}/items/special"))["context"]["memory_limit_in_mb"] == "256"


def test_environment_is_lambdas_plus_the_template_plus_overrides(gateway, api):
    env = echoed(api.get(f"{gateway.url}/public"))["environ"]
    assert env["FUNCTION_SETTING"] == "echo"
    assert env["SHARED_SETTING"] == "from-globals"
    assert env["GREETING"] == "hi-from-env-vars"  # --env-vars Parameters beat the template
    assert env["ENDPOINT_OVERRIDE"] == "http://127.0.0.1:9"
    assert "NOT_IN_TEMPLATE" not in env  # like sam local: only variables the template declares
    assert env["AWS_REGION"] == env["AWS_DEFAULT_REGION"] == REGION
    assert env["AWS_LAMBDA_FUNCTION_NAME"] == "gwtest-EchoFunction"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "128"
    assert env["AWS_LAMBDA_FUNCTION_VERSION"] == "$LATEST"
    assert env["AWS_EXECUTION_ENV"] == "AWS_Lambda_python3.13"
    assert env["_HANDLER"] == "app.lambda_handler"
    assert env["LAMBDA_TASK_ROOT"] == str(APP / "echo")
    assert env["TZ"] == "UTC"
    # Nothing else leaks from the test process.
    assert not {"PYTHONPATH", "VIRTUAL_ENV", "PYTEST_CURRENT_TEST"} & set(env)
    other = echoed(api.get(f"{gateway.url}/items/special"))["environ"]
    assert other["FUNCTION_SETTING"] == "other-from-env-vars"  # --env-vars for that function only


def test_sys_path_is_task_root_then_layer_never_the_project(gateway, api):
    body = echoed(api.get(f"{gateway.url}/public"))
    assert body["sys_path"][:2] == [str(APP / "echo"), str(APP / "layer" / "python")]
    root = str(APP.parents[2])
    assert not [p for p in body["sys_path"] if p in (root, f"{root}/local", f"{root}/layers/podgate", "")]
    assert body["cwd"] == str(APP / "echo")
    assert body["layer"] == "from-the-layer"
    assert body["importable"] == {"podgate": False, "podgate_local": False, "yaml": True}


def test_prints_go_to_the_logs_and_never_into_the_reply(gateway, api, logs):
    mark = logs.mark()
    resp = api.get(f"{gateway.url}/public?say=hello")
    body = echoed(resp)  # the printed {"ok": true, "result": {"statusCode": 418}} changed nothing
    lines = logs.since(mark)
    request_id = body["context"]["aws_request_id"]
    assert lines[lines.index(f"[EchoFunction] START RequestId: {request_id} Version: $LATEST") + 1 :][:4] == [
        "[EchoFunction] hello",
        '[EchoFunction] {"ok": true, "result": {"statusCode": 418}}',
        "[EchoFunction] raw write to fd 1",
        "[EchoFunction] to stderr",
    ]
    assert f"[EchoFunction] END RequestId: {request_id}" in lines
    assert any(line.startswith(f"[EchoFunction] REPORT RequestId: {request_id}\tDuration: ") for line in lines)


def test_timeout_kills_the_container_and_the_next_call_cold_starts(gateway, api, logs):
    warm_pid = int(api.get(f"{gateway.url}/sleep?seconds=0").text)
    mark = logs.mark()
    started = time.monotonic()
    resp = api.get(f"{gateway.url}/sleep")  # sleeps 30 s; Timeout is 1 s
    assert 1.0 <= time.monotonic() - started < 3
    assert (resp.status_code, resp.json()) == (502, {"detail": "Internal server error"})
    assert any(line.endswith("Task timed out after 1.00 seconds") for line in logs.since(mark))
    with pytest.raises(ProcessLookupError):
        os.kill(warm_pid, 0)
    assert int(api.get(f"{gateway.url}/sleep?seconds=0").text) != warm_pid


def test_integration_timeout_is_504_while_the_function_runs_on(stack):
    logs = Logs()
    gw = LocalGateway(stack, env=ENV, port=0, log_sink=logs, integration_timeout=0.3, throttle=False).start()
    try:
        requests.get(f"{gw.url}/sleep?seconds=0", timeout=5)  # warm up
        started = time.monotonic()
        resp = requests.get(f"{gw.url}/sleep?seconds=0.6", timeout=5)
        assert time.monotonic() - started < 0.55
        assert (resp.status_code, resp.json()) == (504, {"detail": "Gateway timeout"})
        assert resp.headers["Access-Control-Allow-Origin"] == CORS_ORIGIN  # INTEGRATION_TIMEOUT's own
        # Like Lambda behind API Gateway, the function finishes and its container stays warm.
        deadline = time.monotonic() + 3
        while not any("Duration: 6" in line for line in logs.lines) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any("Task timed out" in line for line in logs.lines)
        assert any(line.startswith("[SleepFunction] REPORT") and "Duration: 6" in line for line in logs.lines)
        assert gw.pools["SleepFunction"].size == 1
    finally:
        gw.stop()


def test_pool_grows_to_the_concurrency_limit_then_queues(stack):
    gw = LocalGateway(stack, env=ENV, port=0, log_sink=Logs(), max_concurrency_per_function=2, throttle=False).start()
    try:
        results: list[requests.Response] = []
        threads = [
            threading.Thread(target=lambda: results.append(requests.get(f"{gw.url}/sleep?seconds=0.3", timeout=5)))
            for _ in range(3)
        ]
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert [r.status_code for r in results] == [200, 200, 200]
        assert len({r.text for r in results}) == 2  # two containers served three requests
        assert time.monotonic() - started >= 0.6  # the third waited for a free container
        pool = gw.pools["SleepFunction"]
        assert (pool.size, pool.cold_starts) == (2, 2)
        pids = {int(r.text) for r in results}
    finally:
        gw.stop()
    for pid in pids:  # stop() ends every container
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)


def test_keep_alive_connections_are_reused(gateway):
    conn = http.client.HTTPConnection(gateway.host, gateway.port, timeout=5)
    try:
        for _ in range(3):
            conn.request("GET", "/public")
            resp = conn.getresponse()
            resp.read()
            assert resp.status == 200 and not resp.will_close
        assert conn.sock is not None
    finally:
        conn.close()


def test_local_servers_answer_without_nagle_delays():
    # Each answer is written in two parts (headers, body); with Nagle's algorithm on, the second
    # waits for the client's delayed ACK and every keep-alive request costs ~40 ms. Checked by
    # configuration here; the latency itself is measured by `make bench`, not by a timed test.
    from podgate_local import aws, gateway, runpod_emulator

    for handler in (gateway._Handler, runpod_emulator._Handler, aws._ExtensionHandler):
        assert handler.disable_nagle_algorithm is True, handler.__module__


def test_invoke_function_returns_the_response_or_the_error_object(stack):
    event = {"queryStringParameters": None, "requestContext": {}}
    ok = invoke_function(stack, "EchoFunction", event, ENV, log_sink=Logs())
    assert ok.error is None and ok.cold
    response = ok.payload
    assert response["statusCode"] == 200
    assert response["headers"]["X-Function"] == "echo"
    failed = invoke_function(stack, "BoomFunction", {}, ENV, log_sink=Logs())
    assert failed.error == "ValueError"
    error = failed.payload
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "kaboom")
    assert any("boom/app.py" in frame for frame in error["stackTrace"])
