"""The OpenAPI document: current, valid, true to the template and to what the API sends; the
function that serves it; the local /docs page."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass

import pytest
from jsonschema import Draft202012Validator
from openapi_spec_validator import OpenAPIV31SpecValidator

from podgate.models.api import (
    POD_ID_PATTERN,
    CreatePodResponse,
    DeletePodResponse,
    PodItem,
    PodListResponse,
    StopPodResponse,
    TokenResponse,
)
from podgate.openapi import DOCUMENT_PATH, OPERATIONS, build_document, render
from podgate_local import docs
from podgate_local.template import ROOT, load_stack
from tests.helpers import LambdaContext, load_function


@pytest.fixture(scope="module")
def document() -> dict:
    return json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))


def _validate(document: dict, schema_name: str, body) -> None:
    """Validate `body` against components/schemas/<schema_name> (refs resolved in the document)."""
    schema = {"$ref": f"#/components/schemas/{schema_name}", "components": document["components"]}
    Draft202012Validator(schema).validate(body)


def _schema_of(document: dict, response: dict) -> dict:
    if "$ref" in response:
        response = document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response["content"]["application/json"]["schema"]


# --- current and valid ----------------------------------------------------------------------


def test_committed_document_is_what_make_openapi_writes():
    # A byte comparison: the document is rendered with sorted keys, so any difference is real.
    assert DOCUMENT_PATH.read_text(encoding="utf-8") == docs.document_text(), (
        f"{DOCUMENT_PATH.relative_to(ROOT)} is stale: run `make openapi` and commit the result"
    )


def test_docs_copy_is_the_layer_copy():
    linked = ROOT / "docs" / "openapi.json"
    assert linked.resolve() == DOCUMENT_PATH.resolve() or linked.read_bytes() == DOCUMENT_PATH.read_bytes()


def test_check_mode_detects_a_stale_document(tmp_path, monkeypatch, capsys):
    assert docs.main(["--check"]) == 0
    stale = tmp_path / "openapi.json"
    stale.write_text("{}\n")
    monkeypatch.setattr(docs, "document_path", lambda: stale)
    assert docs.main(["--check"]) == 1
    assert "make openapi" in capsys.readouterr().err
    assert docs.main([]) == 0
    assert stale.read_text() == docs.document_text()


def test_document_is_valid_openapi_3_1(document):
    assert document["openapi"] == "3.1.0"
    OpenAPIV31SpecValidator(document).validate()


def test_rendering_is_deterministic():
    routes = load_stack().routes
    assert render(build_document(routes)) == render(build_document(list(reversed(routes))))


# --- true to the template -------------------------------------------------------------------


def test_every_template_route_is_an_operation_with_its_authorizer(document):
    routes = load_stack().routes
    operations = {(m.upper(), p) for p, item in document["paths"].items() for m in item}
    assert operations == {(r.method, r.path) for r in routes}
    for route in routes:
        op = document["paths"][route.path][route.method.lower()]
        if route.authorizer:
            assert op["security"] == [{"bearerAuth": []}]
            assert "401" in op["responses"]
        else:
            assert op["security"] == []
    assert document["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "An access token from POST /auth.",
    }


@dataclass(frozen=True)
class _Route:
    method: str
    path: str
    authorizer: str | None = None


def test_a_route_missing_from_the_table_or_the_template_fails_the_build():
    routes = load_stack().routes
    with pytest.raises(ValueError, match="undocumented routes"):
        build_document([*routes, _Route("GET", "/pods/{pod_id}/logs")])
    with pytest.raises(ValueError, match="the template does not have"):
        build_document([r for r in routes if r.path != "/auth"])


def test_every_route_documents_throttling_failures_and_timeouts(document):
    for item in document["paths"].values():
        for op in item.values():
            assert {"200", "429", "500", "502", "504"} <= set(op["responses"])
            if "requestBody" in op:
                assert {"400", "413", "422"} <= set(op["responses"])


def test_pod_routes_document_not_found_conflict_and_runpod_unavailable(document):
    for path, item in document["paths"].items():
        for method, op in item.items():
            if "{pod_id}" in path or path == "/pods/stop" or (path, method) == ("/pods", "delete"):
                assert {"404", "503"} <= set(op["responses"]), (method, path)
                assert ("409" in op["responses"]) == (method != "get"), (method, path)


def test_parameters(document):
    params = document["components"]["parameters"]
    assert params["PodId"]["schema"]["pattern"] == POD_ID_PATTERN
    assert params["PodId"]["in"] == "path" and params["PodId"]["required"] is True
    create = document["paths"]["/pods"]["post"]
    assert {"$ref": "#/components/parameters/IdempotencyKey"} in create["parameters"]
    assert params["IdempotencyKey"]["name"] == "Idempotency-Key" and params["IdempotencyKey"]["in"] == "header"
    assert document["paths"]["/health"]["get"]["parameters"] == [{"$ref": "#/components/parameters/Deep"}]
    assert params["Deep"]["in"] == "query"
    for path, item in document["paths"].items():
        for op in item.values():
            names = [params[p["$ref"].rsplit("/", 1)[1]]["name"] for p in op.get("parameters", [])]
            assert [n for n in names if "{" + n + "}" in path] == [n for n in names if n == "pod_id"]


def test_retry_after_on_throttling_conflicts_and_unavailability(document):
    responses = document["components"]["responses"]
    for name in ("TooManyRequests", "Conflict", "ServiceUnavailable"):
        assert responses[name]["headers"] == {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    auth_429 = document["paths"]["/auth"]["post"]["responses"]["429"]
    assert "Retry-After" in auth_429["headers"] and "failed logins" in auth_429["description"]


# --- true to what the API sends -------------------------------------------------------------


def test_error_bodies_are_detail_and_422_adds_errors(document):
    for response in document["components"]["responses"].values():
        media = response["content"]["application/json"]
        _validate(document, media["schema"]["$ref"].rsplit("/", 1)[1], media["example"])
        _validate(document, "ErrorResponse", {"detail": "x"})
    validation = document["components"]["responses"]["ValidationFailed"]["content"]["application/json"]
    assert validation["schema"] == {"$ref": "#/components/schemas/ValidationErrorResponse"}
    with pytest.raises(Exception, match="errors"):
        _validate(document, "ValidationErrorResponse", {"detail": "x"})


@pytest.mark.parametrize(
    "model,body",
    [
        (TokenResponse, TokenResponse(access_token="a.b.c", expires_in=3600)),
        (PodListResponse, PodListResponse(pods=[], items=[])),
        (
            PodItem,
            PodItem(pod_id="p1", name="n", image="i", gpu_type=None, gpu_count=1, status="RUNNING", owner=None,
                    created_at=None, cost_per_hr=None),
        ),
        (CreatePodResponse, CreatePodResponse(pod_id="p1")),
        (StopPodResponse, StopPodResponse()),
        (DeletePodResponse, DeletePodResponse()),
    ],
)
def test_response_schemas_accept_the_models_bodies_and_require_every_field(document, model, body):
    dumped = body.model_dump(mode="json")
    _validate(document, model.__name__, dumped)
    schema = document["components"]["schemas"][model.__name__]
    assert sorted(schema["required"]) == sorted(dumped)


def test_health_schemas_accept_the_plain_and_the_deep_answer(document):
    health_fn = load_function("health")
    plain = json.loads(health_fn._BODY)
    get = document["paths"]["/health"]["get"]
    ok_schema = {**_schema_of(document, get["responses"]["200"]), "components": document["components"]}
    Draft202012Validator(ok_schema).validate(plain)
    assert plain["status"] == "ok"
    deep = {"status": "degraded", "source": "runpod_api",
            "checks": {"runpod": {"ok": False, "error": "unavailable"}, "users_table": {"ok": True, "latency_ms": 1.5}}}
    _validate(document, "DeepHealthResponse", deep)
    assert get["responses"]["503"]["content"]["application/json"]["schema"]["$ref"].endswith("/DeepHealthResponse")


def test_request_examples_are_valid_requests(document):
    for (method, path), op in OPERATIONS.items():
        if op.request is not None:
            op.request.model_validate(op.request_example)
            media = document["paths"][path][method.lower()]["requestBody"]["content"]["application/json"]
            assert media["example"] == op.request_example


# --- the function that serves it ------------------------------------------------------------


def test_function_returns_the_committed_document():
    fn = load_function("openapi")
    out = fn.lambda_handler({"headers": {"Origin": "https://console.example.com"}}, LambdaContext())
    assert out["statusCode"] == 200
    assert out["headers"]["Content-Type"] == "application/json"
    assert out["headers"]["Access-Control-Allow-Origin"] == "*"
    assert out["body"] == DOCUMENT_PATH.read_text(encoding="utf-8")


def test_function_imports_neither_pydantic_nor_the_models():
    code = (
        "import sys; sys.path[:0] = [sys.argv[1], sys.argv[2]]; import app; "
        "assert app.lambda_handler({}, None)['statusCode'] == 200; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('pydantic', 'aws_lambda_powertools', 'boto3') "
        "or m.startswith('podgate.models')); print(bad); assert not bad, bad"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    subprocess.run(  # noqa: S603 - our own interpreter and code
        [sys.executable, "-c", code, str(ROOT / "functions" / "openapi"), str(ROOT / "layers" / "podgate")],
        check=True, env=env, capture_output=True, text=True,
    )


# --- /docs ----------------------------------------------------------------------------------


def _headers(response) -> dict[str, str]:
    return {k.lower(): v for k, v in response.headers}


@pytest.mark.parametrize("path", ["/docs", "/dev/docs"])
def test_docs_page_is_swagger_ui_from_local_assets(path):
    page = docs.docs_response("GET", path, "dev")
    assert page.status == 200 and _headers(page)["content-type"].startswith("text/html")
    html = page.body.decode()
    assert "http://" not in html and "https://" not in html and "//" not in html
    csp = _headers(page)["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp and "connect-src 'self'" in csp
    for asset in ("swagger-ui.css", "swagger-ui-bundle.js", docs.INIT_SCRIPT):
        assert f'"docs/{asset}"' in html
        served = docs.docs_response("GET", f"{path}/{asset}", "dev")
        assert served.status == 200 and len(served.body) > 100


def test_docs_page_reads_the_document_beside_it():
    init = docs.docs_response("GET", f"/docs/{docs.INIT_SCRIPT}", "dev").body.decode()
    assert 'new URL("openapi.json", window.location.href)' in init
    assert "validatorUrl: null" in init  # Swagger UI's default validator is a remote service


def test_docs_leaves_everything_else_to_the_gateway():
    assert docs.docs_response("GET", "/pods", "dev") is None
    assert docs.docs_response("GET", "/openapi.json", "dev") is None
    assert docs.docs_response("GET", "/docsx", "dev") is None
    assert docs.docs_response("POST", "/docs", "dev") is None
    assert docs.docs_response("GET", "/docs/../template.yaml", "dev").status == 404
    assert docs.docs_response("GET", "/docs/index.html", "dev").status == 404
    redirect = docs.docs_response("GET", "/dev/docs/", "dev")
    assert redirect.status == 308 and _headers(redirect)["location"] == "/dev/docs"


def test_docs_without_swagger_ui_says_how_to_install_it(monkeypatch):
    monkeypatch.setattr(docs, "swagger_ui_dir", lambda: None)
    response = docs.docs_response("GET", "/docs", "dev")
    assert response.status == 503 and b"requirements-dev.txt" in response.body
