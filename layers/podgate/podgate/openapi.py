"""The API's OpenAPI 3.1 document, built from template.yaml's routes and the pydantic models.

`make openapi` writes it beside this module (podgate/openapi.json, so the layer ships it and
the OpenApiFunction serves it; docs/openapi.json is a link to it), and
tests/unit/test_openapi.py fails when the committed file differs from what this module builds.

The routes come from the template (method, path, authorizer); everything the template cannot
say about a route is in one table, OPERATIONS, and building fails when the two disagree, so a
new route cannot ship undocumented. Bodies are the models of podgate.models.api; error bodies
are those podgate.http writes and the template's GatewayResponses send ({"detail": ...}).

Only the generator and the tests import this module (it imports pydantic); the function that
serves the document reads the stored JSON.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NotRequired, Protocol, TypedDict

from pydantic import BaseModel, TypeAdapter
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaMode

from podgate import errors
from podgate.models.api import (
    ENV_NAME,
    IMAGE_REFERENCE,
    POD_ID_PATTERN,
    RESERVED_ENV_PREFIX,
    AuthRequest,
    CreatePodRequest,
    CreatePodResponse,
    DeletePodResponse,
    ErrorResponse,
    FieldError,
    HealthResponse,
    PodIdRequest,
    PodItem,
    PodListResponse,
    StopPodResponse,
    TokenResponse,
)
from podgate.services.idempotency import _KEY as IDEMPOTENCY_KEY
from podgate.services.idempotency import HEADER as IDEMPOTENCY_HEADER

OPENAPI_VERSION = "3.1.0"
DOCUMENT_PATH = Path(__file__).with_name("openapi.json")
SCHEMA_REF = "#/components/schemas/{model}"
JSON = "application/json"
BEARER = "bearerAuth"


class RouteLike(Protocol):
    """What the document needs of a route (podgate_local.template.Route is one)."""

    method: str
    path: str
    authorizer: str | None


# --- bodies the API sends that podgate.models.api has no model for ---------------------------


class HealthCheck(TypedDict):
    """One dependency of the deep health check."""

    ok: bool
    latency_ms: NotRequired[float]
    error: NotRequired[str]


class DeepHealthResponse(TypedDict):
    """GET /health?deep=true: 200 when every check is ok, 503 (status "degraded") otherwise."""

    status: Literal["ok", "degraded"]
    source: str
    checks: dict[str, HealthCheck]


class ValidationErrorResponse(TypedDict):
    """A 422: what failed, with one entry per failing field ("loc" starts with "body" or "header")."""

    detail: str
    errors: list[FieldError]


# --- errors ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ErrorSpec:
    name: str  # components/responses key
    description: str
    example: str  # a `detail` the API really sends (taken from podgate.errors)
    schema: str = "ErrorResponse"
    retry_after: bool = False


ERRORS: dict[int, ErrorSpec] = {
    400: ErrorSpec("BadRequest", "The body is missing, not JSON, or not a JSON object.", errors.BadRequest.detail),
    401: ErrorSpec(
        "Unauthorized",
        "No bearer token, or one that is malformed, badly signed or expired, or whose user has since been "
        "disabled, changed role or had its tokens revoked.",
        errors.Unauthorized.detail,
    ),
    404: ErrorSpec(
        "NotFound",
        "No pod with this id that the caller may see: another user's pod is answered exactly like a missing one.",
        errors.PodNotFound.detail,
    ),
    409: ErrorSpec(
        "Conflict",
        "The pod's state does not allow the action, or a request with the same Idempotency-Key is still in "
        "progress (then with Retry-After).",
        errors.RunPodConflict.detail,
        retry_after=True,
    ),
    413: ErrorSpec(
        "PayloadTooLarge",
        "The body is over 64 KiB (API Gateway itself refuses bodies over 10 MB).",
        errors.PayloadTooLarge.detail,
    ),
    422: ErrorSpec(
        "ValidationFailed",
        "The body, or the Idempotency-Key header, does not fit the schema: `errors` has one entry per failing "
        "field. JSON types are never coerced (\"2\" is not a gpu_count).",
        "Request body failed validation",
        schema="ValidationErrorResponse",
    ),
    429: ErrorSpec(
        "TooManyRequests",
        "Throttled by the stage's per-method rate limit (ThrottlingRateLimit, ThrottlingBurstLimit).",
        errors.TooManyRequests.detail,
        retry_after=True,
    ),
    500: ErrorSpec(
        "InternalServerError", "An unexpected error; details are logged, never returned.", "Internal server error"
    ),
    502: ErrorSpec(
        "BadGateway",
        "RunPod answered with an error podgate cannot map to anything more specific (or the function failed).",
        errors.RunPodError.detail,
    ),
    503: ErrorSpec(
        "ServiceUnavailable",
        "RunPod has no capacity for the GPU type (the message names it), is rate-limiting podgate (with "
        "Retry-After when RunPod gave one), or cannot be reached.",
        errors.RunPodUnavailable.detail,
        retry_after=True,
    ),
    504: ErrorSpec(
        "GatewayTimeout",
        "RunPod did not answer in time (or the function exceeded API Gateway's integration timeout).",
        errors.RunPodTimeout.detail,
    ),
}
# Every route can be throttled by the stage, fail, or time out at API Gateway.
EVERY_ROUTE = (429, 500, 502, 504)
WITH_BODY = (400, 413, 422)
WITH_AUTHORIZER = (401,)
# What calls RunPod can get from it.
RUNPOD = (503,)


# --- the routes -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Operation:
    operation_id: str
    summary: str
    tag: str
    response: Any  # the 200 body: a model, a TypedDict, or a JSON schema (dict)
    description: str = ""
    request: type[BaseModel] | None = None
    request_example: Mapping[str, Any] | None = None
    error_statuses: tuple[int, ...] = ()  # beyond EVERY_ROUTE, WITH_BODY and WITH_AUTHORIZER
    parameters: tuple[str, ...] = ()  # components/parameters keys (path parameters are added)
    # Responses that are not the shared error responses: status -> (description, body schema name)
    special: Mapping[int, tuple[str, str]] = field(default_factory=dict)
    error_descriptions: Mapping[int, str] = field(default_factory=dict)
    error_examples: Mapping[int, str] = field(default_factory=dict)  # a `detail` this route sends instead
    # OpenAPI links from the 200 answer: operationId -> {parameter: runtime expression}
    links: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("POST", "/auth"): Operation(
        "login",
        "Exchange a username and password for an access token",
        "auth",
        TokenResponse,
        description="The token goes in `Authorization: Bearer <token>` on every /pods request.",
        request=AuthRequest,
        request_example={"username": "alice", "password": "correct horse battery staple"},
        error_statuses=(401,),
        error_examples={401: errors.InvalidCredentials.detail},
        error_descriptions={
            401: "Wrong username or password (an unknown or disabled user gets the same answer).",
            429: "Too many failed logins for this username within the window (LoginFailureLimit, "
            "LoginFailureWindowSeconds; with Retry-After), or throttled by the stage.",
        },
    ),
    ("GET", "/health"): Operation(
        "getHealth",
        "Is the API up?",
        "meta",
        {"anyOf": [{"$ref": SCHEMA_REF.format(model="HealthResponse")},
                   {"$ref": SCHEMA_REF.format(model="DeepHealthResponse")}]},
        description="A constant answer that touches nothing else; `deep=true` also checks RunPod and the "
        "tables (cached for a few seconds) and answers 503 when any check fails.",
        parameters=("Deep",),
        special={503: ("deep=true only: a check failed (status \"degraded\").", "DeepHealthResponse")},
    ),
    ("GET", "/openapi.json"): Operation(
        "getOpenApiDocument",
        "This OpenAPI document",
        "meta",
        {"type": "object", "description": "An OpenAPI 3.1 document."},
    ),
    ("GET", "/pods"): Operation(
        "listPods",
        "List pods",
        "pods",
        PodListResponse,
        description="A user gets the pods it created through the API; an admin every pod of the RunPod account "
        "(`owner` is null for pods made elsewhere). Sorted by creation time.",
        error_statuses=RUNPOD,
    ),
    ("GET", "/pods/{pod_id}"): Operation(
        "getPod", "Get one pod", "pods", PodItem, error_statuses=(404, *RUNPOD)
    ),
    ("POST", "/pods"): Operation(
        "createPod",
        "Create a pod on RunPod, owned by the caller",
        "pods",
        CreatePodResponse,
        description="With an Idempotency-Key, the same key and body answer the first result and start nothing "
        "new; the same key with another body is a 422. `env` values are never returned or logged.",
        request=CreatePodRequest,
        request_example={"name": "my-pod", "image": "runpod/pytorch:2.4.0", "gpu_type": "nvidia-t4"},
        error_statuses=(409, *RUNPOD),
        parameters=("IdempotencyKey",),
        links={op: {"pod_id": "$response.body#/pod_id"} for op in ("getPod", "stopPodById", "deletePodById")},
        error_descriptions={
            422: ERRORS[422].description + " Also an unknown gpu_type (with suggestions), and an "
            "Idempotency-Key that is malformed or was used with another body.",
        },
    ),
    ("POST", "/pods/stop"): Operation(
        "stopPod",
        "Stop a pod (id in the body)",
        "pods",
        StopPodResponse,
        description="Stopping a stopped pod is a success.",
        request=PodIdRequest,
        request_example={"pod_id": "k3v9q2m8x1z7ab"},
        error_statuses=(404, 409, *RUNPOD),
    ),
    ("POST", "/pods/{pod_id}/stop"): Operation(
        "stopPodById",
        "Stop a pod",
        "pods",
        StopPodResponse,
        description="Stopping a stopped pod is a success.",
        error_statuses=(404, 409, *RUNPOD),
    ),
    ("DELETE", "/pods"): Operation(
        "deletePod",
        "Terminate a pod (id in the body)",
        "pods",
        DeletePodResponse,
        description="A second delete of the same pod is a 404.",
        request=PodIdRequest,
        request_example={"pod_id": "k3v9q2m8x1z7ab"},
        error_statuses=(404, 409, *RUNPOD),
    ),
    ("DELETE", "/pods/{pod_id}"): Operation(
        "deletePodById",
        "Terminate a pod",
        "pods",
        DeletePodResponse,
        description="A second delete of the same pod is a 404.",
        error_statuses=(404, 409, *RUNPOD),
    ),
}

TAGS = {
    "auth": "Access tokens.",
    "pods": "RunPod GPU pods. A user sees and acts on the pods it created; an admin on every pod.",
    "meta": "The API itself.",
}

PARAMETERS: dict[str, dict[str, Any]] = {
    "PodId": {
        "name": "pod_id",
        "in": "path",
        "required": True,
        "description": "RunPod's pod id.",
        "schema": {"type": "string", "pattern": POD_ID_PATTERN},
    },
    "IdempotencyKey": {
        "name": IDEMPOTENCY_HEADER,
        "in": "header",
        "required": False,
        "description": "Any client-chosen string (a UUID, say): retrying with the same key and body is safe. "
        "Scoped to the user, kept for 24 hours.",
        "schema": {"type": "string", "pattern": IDEMPOTENCY_KEY.pattern},
    },
    "Deep": {
        "name": "deep",
        "in": "query",
        "required": False,
        "description": "`true` also checks RunPod and the tables.",
        "schema": {"type": "boolean", "default": False},
    },
}
# Path parameter name -> components/parameters key.
PATH_PARAMETERS = {"pod_id": "PodId"}


def _case_insensitive(prefix: str) -> str:
    return "".join(f"[{c.upper()}{c.lower()}]" if c.isalpha() else re.escape(c) for c in prefix)


# What the models' field validators check, which their JSON schema cannot show by itself.
FIELD_NOTES: dict[str, dict[str, dict[str, Any]]] = {
    "CreatePodRequest": {
        "name": {"description": "Printable characters, not blank."},
        "image": {
            "description": "A container image reference: [registry[:port]/]path[:tag][@digest].",
            "pattern": IMAGE_REFERENCE.pattern,
        },
        "gpu_type": {
            "description": "RunPod's GPU id (\"NVIDIA GeForce RTX 4090\") or a friendly alias (\"rtx-4090\", "
            "\"nvidia-t4\"); an unknown one is a 422 with suggestions.",
            "examples": ["nvidia-t4", "rtx-4090", "NVIDIA GeForce RTX 4090"],
        },
        "ports": {"description": "\"<port>/http\" or \"<port>/tcp\", ports 1-65535."},
        "env": {
            "description": f"Environment variables of the pod. Names starting with {RESERVED_ENV_PREFIX} are "
            "reserved. Values are never returned or logged.",
            "propertyNames": {
                "pattern": ENV_NAME.pattern,
                "not": {"pattern": "^" + _case_insensitive(RESERVED_ENV_PREFIX)},
            },
        },
    },
}


# --- schemas --------------------------------------------------------------------------------


class _Generator(GenerateJsonSchema):
    """Response bodies are model_dump()ed, so every field is in them, defaults included: in
    serialization mode a model's fields are all required. (TypedDicts keep NotRequired.)"""

    def field_is_required(self, field: Any, total: bool) -> bool:
        if self.mode == "serialization" and field["type"] in ("model-field", "dataclass-field"):
            return field.get("serialization_exclude_if") is None
        return super().field_is_required(field, total)


# ErrorResponse is written by hand (podgate.errors), never dumped: `errors` is only in a 422.
_SCHEMAS: tuple[tuple[Any, JsonSchemaMode], ...] = (
    (AuthRequest, "validation"),
    (CreatePodRequest, "validation"),
    (PodIdRequest, "validation"),
    (TokenResponse, "serialization"),
    (HealthResponse, "serialization"),
    (DeepHealthResponse, "serialization"),
    (PodItem, "serialization"),
    (PodListResponse, "serialization"),
    (CreatePodResponse, "serialization"),
    (StopPodResponse, "serialization"),
    (DeletePodResponse, "serialization"),
    (ErrorResponse, "validation"),
    (ValidationErrorResponse, "serialization"),
)


def component_schemas() -> dict[str, Any]:
    inputs = [(i, mode, TypeAdapter(tp).core_schema) for i, (tp, mode) in enumerate(_SCHEMAS)]
    generator = _Generator(ref_template=SCHEMA_REF)
    _, definitions = generator.generate_definitions(inputs)
    schemas = dict(definitions)
    for model, notes in FIELD_NOTES.items():
        for name, extra in notes.items():
            schemas[model]["properties"][name].update(extra)
    return schemas


def _ref(model: Any) -> dict[str, str]:
    return {"$ref": SCHEMA_REF.format(model=model if isinstance(model, str) else model.__name__)}


def _json_content(schema: Any, example: Any = None) -> dict[str, Any]:
    media: dict[str, Any] = {"schema": schema if isinstance(schema, dict) else _ref(schema)}
    if example is not None:
        media["example"] = example
    return {JSON: media}


def _error_response(spec: ErrorSpec, description: str | None = None, detail: str | None = None) -> dict[str, Any]:
    example: dict[str, Any] = {"detail": detail or spec.example}
    if spec.schema == "ValidationErrorResponse":
        example["errors"] = [{"loc": ["body", "gpu_count"], "msg": "Input should be less than or equal to 8"}]
    response: dict[str, Any] = {
        "description": description or spec.description,
        "content": _json_content(spec.schema, example),
    }
    if spec.retry_after:
        response["headers"] = {"Retry-After": {"$ref": "#/components/headers/RetryAfter"}}
    return response


def _operation(route: RouteLike, op: Operation) -> dict[str, Any]:
    path_params = re.findall(r"\{([^}]+)\}", route.path)
    unknown = [p for p in path_params if p not in PATH_PARAMETERS]
    if unknown:
        raise ValueError(f"{route.method} {route.path}: no PATH_PARAMETERS entry for {unknown}")
    params = [PATH_PARAMETERS[p] for p in path_params] + list(op.parameters)

    statuses = set(EVERY_ROUTE) | set(op.error_statuses)
    if op.request is not None:
        statuses |= set(WITH_BODY)
    if route.authorizer:
        statuses |= set(WITH_AUTHORIZER)
    responses: dict[str, Any] = {"200": {"description": "OK", "content": _json_content(op.response)}}
    if op.links:
        responses["200"]["links"] = {
            target[0].upper() + target[1:]: {"operationId": target, "parameters": dict(params)}
            for target, params in op.links.items()
        }
    for status in sorted(statuses - set(op.special)):
        if status in op.error_descriptions or status in op.error_examples:
            responses[str(status)] = _error_response(
                ERRORS[status], op.error_descriptions.get(status), op.error_examples.get(status)
            )
        else:
            responses[str(status)] = {"$ref": f"#/components/responses/{ERRORS[status].name}"}
    for status, (description, schema) in op.special.items():
        responses[str(status)] = {"description": description, "content": _json_content(schema)}

    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "tags": [op.tag],
        "security": [{BEARER: []}] if route.authorizer else [],
        "responses": responses,
    }
    if op.description:
        out["description"] = op.description
    if params:
        out["parameters"] = [{"$ref": f"#/components/parameters/{p}"} for p in params]
    if op.request is not None:
        out["requestBody"] = {"required": True, "content": _json_content(op.request, op.request_example)}
    return out


def build_document(
    routes: Iterable[RouteLike],
    *,
    title: str = "podgate",
    version: str = "0.0.0",
    description: str = "",
    stage: str = "dev",
) -> dict[str, Any]:
    """The document for these routes (template.yaml's); fails when OPERATIONS disagrees with them."""
    routes = list(routes)
    keys = [(r.method.upper(), r.path) for r in routes]
    missing = sorted(set(keys) - set(OPERATIONS))
    extra = sorted(set(OPERATIONS) - set(keys))
    if missing or extra or len(set(keys)) != len(keys):
        raise ValueError(
            f"routes and podgate.openapi.OPERATIONS disagree: undocumented routes {missing}, "
            f"documented routes the template does not have {extra}"
        )
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        op = OPERATIONS[(route.method.upper(), route.path)]
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(route, op)
    used_tags = {OPERATIONS[k].tag for k in keys}
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": title, "version": version, "description": description},
        "servers": [
            {
                "url": "/{stage}",
                "description": "The API stage, relative to where this document is served",
                "variables": {"stage": {"default": stage, "description": "template.yaml's StageName"}},
            }
        ],
        "tags": [{"name": name, "description": text} for name, text in TAGS.items() if name in used_tags],
        "paths": paths,
        "components": {
            "schemas": component_schemas(),
            "responses": {spec.name: _error_response(spec) for spec in ERRORS.values()},
            "parameters": PARAMETERS,
            "headers": {
                "RetryAfter": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer", "minimum": 1},
                }
            },
            "securitySchemes": {
                BEARER: {
                    "type": "http",
                    "scheme": "bearer",
                    "bearerFormat": "JWT",
                    "description": "An access token from POST /auth.",
                }
            },
        },
    }


def render(document: Mapping[str, Any]) -> str:
    """The document as stored: sorted keys, two-space indent, one trailing newline."""
    return json.dumps(document, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
