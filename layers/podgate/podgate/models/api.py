"""Request and response bodies of the HTTP API (shared/API.md), as pydantic models.

Requests forbid unknown fields: a typo such as "gpu_typ" must fail loudly (422), not create a
pod with defaults. The same models generate the OpenAPI document.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

# distribution/reference's grammar: [registry[:port]/]path[/path...][:tag][@digest]. Patterns
# are used with fullmatch: `$` alone would also accept a trailing newline.
_LABEL = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"{_LABEL}(?:\.{_LABEL})*(?::[0-9]+)?"
_PATH = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[\w][\w.-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"
IMAGE_REFERENCE = re.compile(rf"^(?:{_DOMAIN}/)?{_PATH}(?:/{_PATH})*(?::{_TAG})?(?:@{_DIGEST})?$")
POD_ID_PATTERN = r"^[A-Za-z0-9_-]{1,64}$"
ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
# Env names the API sets on pods itself (to find a pod a failed create may have started).
RESERVED_ENV_PREFIX = "PODGATE_"

PodId = Annotated[str, StringConstraints(pattern=POD_ID_PATTERN)]


class _Request(BaseModel):
    # strict: JSON types must match ("2" is not a gpu_count, true is not 1): a coerced value
    # would silently change what gets billed.
    model_config = ConfigDict(extra="forbid", strict=True)


class AuthRequest(_Request):
    username: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    password: Annotated[str, StringConstraints(min_length=1, max_length=1024)]


class CreatePodRequest(_Request):
    name: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    image: Annotated[str, StringConstraints(min_length=1, max_length=512)]
    gpu_type: Annotated[str, StringConstraints(min_length=1, max_length=128)]
    gpu_count: int = Field(default=1, ge=1, le=8)
    cloud_type: Literal["SECURE", "COMMUNITY"] = "SECURE"
    container_disk_gb: int | None = Field(default=None, ge=1, le=4000)
    volume_gb: int | None = Field(default=None, ge=0, le=10000)
    ports: list[Annotated[str, StringConstraints(pattern=r"^[0-9]{1,5}/(http|tcp)$")]] | None = Field(
        default=None, max_length=20
    )
    env: dict[str, Annotated[str, StringConstraints(max_length=8192)]] | None = Field(
        default=None, max_length=64
    )

    @field_validator("name")
    @classmethod
    def _printable(cls, v: str) -> str:
        if not v.isprintable() or not v.strip():
            raise ValueError("name must be printable characters and not blank")
        return v

    @field_validator("image")
    @classmethod
    def _image(cls, v: str) -> str:
        if not IMAGE_REFERENCE.fullmatch(v):
            raise ValueError("image must be a container image reference such as 'runpod/pytorch:2.4.0'")
        return v

    @field_validator("ports")
    @classmethod
    def _ports(cls, v: list[str] | None) -> list[str] | None:
        for port in v or []:
            if not 1 <= int(port.split("/")[0]) <= 65535:
                raise ValueError("port numbers must be between 1 and 65535")
        return v

    @field_validator("env")
    @classmethod
    def _env_names(cls, v: dict[str, str] | None) -> dict[str, str] | None:
        for key in v or {}:
            if not ENV_NAME.fullmatch(key):
                raise ValueError("env keys must be environment variable names ([A-Za-z_][A-Za-z0-9_]*)")
            if key.upper().startswith(RESERVED_ENV_PREFIX):
                raise ValueError(f"env keys starting with {RESERVED_ENV_PREFIX} are reserved")
        return v


class PodIdRequest(_Request):
    pod_id: PodId


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"  # noqa: S105 - the scheme, not a secret
    expires_in: int


class HealthResponse(BaseModel):
    status: Literal["ok", "degraded"] = "ok"
    source: str = "runpod_api"


# RunPod may add states; pass them through rather than fail the whole list.


class PodItem(BaseModel):
    pod_id: str
    name: str
    image: str
    gpu_type: str | None
    gpu_count: int
    status: str = Field(description="RunPod status: PROVISIONING, STARTING, RUNNING, EXITED, ERROR...")
    owner: str | None = Field(description="Who created the pod through the API; null if made elsewhere")
    created_at: str | None
    cost_per_hr: float | None


class PodListResponse(BaseModel):
    pods: list[str]
    items: list[PodItem]


class CreatePodResponse(BaseModel):
    pod_id: str


class StopPodResponse(BaseModel):
    status: Literal["stopped"] = "stopped"


class DeletePodResponse(BaseModel):
    status: Literal["deleted"] = "deleted"


class FieldError(BaseModel):
    loc: list[str | int]
    msg: str


class ErrorResponse(BaseModel):
    detail: str
    errors: list[FieldError] | None = None
