"""Domain errors. Each carries the HTTP status and the client-safe `detail` it maps to.

Only this module decides what a caller is told; podgate.http turns any of these into a
response. Clients and repositories translate library exceptions (requests, botocore) into
these at their edge, so no other module ever sees a third-party exception type.
"""

from __future__ import annotations

from typing import Any


class PodgateError(Exception):
    status: int = 500
    detail: str = "Internal server error"

    def __init__(self, detail: str | None = None, *, headers: dict[str, str] | None = None) -> None:
        self.detail = detail or type(self).detail
        self.headers: dict[str, str] = dict(headers or {})
        super().__init__(self.detail)

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail}


class BadRequest(PodgateError):
    status = 400
    detail = "Request body must be a JSON object"


class Unauthorized(PodgateError):
    status = 401
    detail = "Unauthorized"


class InvalidCredentials(Unauthorized):
    detail = "Invalid username or password"


class Forbidden(PodgateError):
    status = 403
    detail = "Forbidden"


class NotFound(PodgateError):
    status = 404
    detail = "Not found"


class PodNotFound(NotFound):
    detail = "Pod not found"


class Conflict(PodgateError):
    status = 409
    detail = "Conflict"


class PayloadTooLarge(PodgateError):
    status = 413
    detail = "Request body too large"


class ValidationFailed(PodgateError):
    """422 with the per-field list API.md describes: [{"loc": [...], "msg": "..."}]."""

    status = 422
    detail = "Validation failed"

    def __init__(self, detail: str | None = None, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail)
        self.errors = errors or []

    def body(self) -> dict[str, Any]:
        return {"detail": self.detail, "errors": self.errors}


class TooManyRequests(PodgateError):
    status = 429
    detail = "Too many requests"

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)} if retry_after else None)
        self.retry_after = retry_after


# --- RunPod (upstream) failures. The client raises these; callers never see requests. ---


class RunPodError(PodgateError):
    """RunPod answered with an error we cannot map to anything more specific."""

    status = 502
    detail = "RunPod API error"
    # RunPod's HTTP status when it answered at all (None: no answer, or an unreadable one).
    upstream_status: int | None = None


class RunPodAuthError(RunPodError):
    """RunPod rejected our API key (401/403): an operator problem, reported as 502 to callers."""


class RunPodNotFound(RunPodError):
    """RunPod does not know the pod. Services turn this into PodNotFound."""

    status = 404
    detail = "Pod not found"


class RunPodConflict(RunPodError):
    """The pod's state does not allow the action (RunPod answered 409)."""

    status = 409
    detail = "The pod's current state does not allow this action"


class RunPodCapacityError(RunPodError):
    status = 503

    def __init__(self, gpu_type: str | None = None) -> None:
        what = f" for GPU type {gpu_type!r}" if gpu_type else ""
        super().__init__(f"RunPod has no capacity{what} right now; try another GPU type or retry later")
        self.gpu_type = gpu_type


class RunPodRateLimited(RunPodError):
    status = 503
    detail = "RunPod is rate-limiting requests; retry later"

    def __init__(self, detail: str | None = None, *, retry_after: int | None = None) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)} if retry_after else None)
        self.retry_after = retry_after


class RunPodUnavailable(RunPodError):
    status = 503
    detail = "RunPod API unavailable"


class RunPodTimeout(RunPodError):
    status = 504
    detail = "RunPod API timed out"


class ConfigurationError(PodgateError):
    """A required setting or secret is missing or malformed: a 500 with a log line."""
