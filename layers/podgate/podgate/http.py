"""The HTTP edge shared by every API function: routing, body parsing, caller identity, and
the one place where errors become responses.

A function's app.py builds its resolver with `make_app()`, registers its routes, and exports
`lambda_handler = entrypoint(app)`.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response
from aws_lambda_powertools.logging import correlation_paths
from pydantic import BaseModel, ValidationError

from podgate import cors, runtime
from podgate.errors import BadRequest, NotFound, PayloadTooLarge, PodgateError, RunPodError, ValidationFailed
from podgate.models.domain import Principal
from podgate.observability import count, end_request, logger, metrics
from podgate.services.identity import principal_from_context

MAX_BODY_BYTES = 64 * 1024
JSON = "application/json"
INTERNAL_ERROR = {"detail": "Internal server error"}


def _serialize(obj: Any) -> str:
    def default(o: Any) -> Any:
        if isinstance(o, BaseModel):
            return o.model_dump(mode="json")
        raise TypeError(f"not JSON serializable: {type(o).__name__}")

    return json.dumps(obj, default=default, separators=(",", ":"))


def error_response(exc: PodgateError) -> Response:
    if isinstance(exc, RunPodError):
        count("RunPodErrors", kind=type(exc).__name__)
    if exc.status == 500:
        # 500s carry internal messages (configuration, storage): log them, never return them.
        logger.error("request failed", extra={"error": type(exc).__name__, "cause": exc.detail})
        body: dict[str, Any] = INTERNAL_ERROR
    else:
        log = logger.warning if exc.status >= 500 else logger.info
        log(
            "request refused",
            extra={"status": exc.status, "error": type(exc).__name__, "reason": exc.detail},
        )
        body = exc.body()
    return Response(exc.status, content_type=JSON, body=_serialize(body), headers=exc.headers)


def make_app() -> APIGatewayRestResolver:
    cors_config = CORSConfig(
        allow_origin=cors.allowed_origin(),
        allow_headers=list(cors.ALLOW_HEADERS),
        max_age=cors.MAX_AGE_SECONDS,
        allow_credentials=False,  # tokens travel in a header, never in cookies
    )
    app = APIGatewayRestResolver(serializer=_serialize, cors=cors_config)

    @app.exception_handler(PodgateError)
    def _podgate_error(exc: PodgateError) -> Response:
        return error_response(exc)

    @app.exception_handler(Exception)
    def _unexpected(exc: Exception) -> Response:
        logger.exception("unhandled error")
        return Response(500, content_type=JSON, body=_serialize(INTERNAL_ERROR))

    @app.not_found
    def _not_found(exc: Exception) -> Response:
        return error_response(NotFound())

    return app


def entrypoint(app: APIGatewayRestResolver) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda handler: structured logs with the API Gateway request id, never the event."""

    @metrics.log_metrics(capture_cold_start_metric=True)
    @logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, log_event=False)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        token = runtime.lambda_context.set(context)
        try:
            return app.resolve(event, context)
        finally:
            runtime.lambda_context.reset(token)
            end_request()

    return handler


def json_body[M: BaseModel](app: APIGatewayRestResolver, model: type[M]) -> M:
    """The request body validated as `model`: 413 over 64 KiB, 400 if not a JSON object, 422
    (with every failing field) when it does not fit the model."""
    event = app.current_event.raw_event
    raw = event.get("body")
    if raw is None or raw == "":
        raise BadRequest()
    if event.get("isBase64Encoded"):
        try:
            data = base64.b64decode(raw, validate=True)
        except (binascii.Error, ValueError):
            raise BadRequest() from None
    else:
        data = raw.encode("utf-8", "surrogatepass")
    if len(data) > MAX_BODY_BYTES:
        raise PayloadTooLarge()
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise BadRequest() from None
    if not isinstance(parsed, dict):
        raise BadRequest()
    try:
        return model.model_validate(parsed)
    except ValidationError as exc:
        errors = [{"loc": ["body", *err["loc"]], "msg": err["msg"]} for err in exc.errors()]
        raise ValidationFailed("Request body failed validation", errors=errors) from None


def caller(app: APIGatewayRestResolver) -> Principal:
    context = (app.current_event.raw_event.get("requestContext") or {}).get("authorizer")
    who = principal_from_context(context, runtime.users())
    logger.append_keys(user=who.username)
    return who
