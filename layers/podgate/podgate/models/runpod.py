"""RunPod REST v2 payloads: what RunPod sends us (tolerant) and what we send it (strict).

Field names are RunPod's own camelCase, so a model reads like the wire format it mirrors and
needs no alias table that could drift from it.

Inbound models ignore unknown fields and make everything but the id optional: RunPod adds
fields and leaves others null (`runtime`, `ssh.direct` and `publicIp` stay null until the
container is up), and neither may break a listing. Timestamps stay strings for the same reason.

A pod's `env` holds user secrets. It is kept, because finding a pod by an env tag is how a
create whose answer was lost gets reconciled, but it is excluded from repr() and model_dump(),
so neither a log line nor an API response can carry it by accident.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field


def _none_as_empty_list(value: Any) -> Any:
    return [] if value is None else value


_List = BeforeValidator(_none_as_empty_list)


class _Inbound(BaseModel):
    model_config = ConfigDict(extra="ignore")


class RunPodGpu(_Inbound):
    """The `gpu` object of a pod."""

    id: str | None = None
    count: int | None = None
    displayName: str | None = None


class RunPodPod(_Inbound):
    id: str
    name: str | None = None
    # PROVISIONING, STARTING, RUNNING, EXITED, ERROR or TERMINATED today; kept as a plain string
    # so a state RunPod adds later passes through instead of failing the whole list.
    status: str | None = None
    actions: Annotated[list[str], _List] = Field(default_factory=list)
    image: str | None = None
    gpu: RunPodGpu | None = None
    cost: float | None = None  # USD per hour; 0.0 while the pod is stopped
    cloud: str | None = None
    dataCenterId: str | None = None
    ports: Annotated[list[str], _List] = Field(default_factory=list)
    publicIp: str | None = None
    portMappings: dict[str, Any] | None = None
    runtime: dict[str, Any] | None = None  # null unless RUNNING and the container is up
    locked: bool | None = None
    createdAt: str | None = None
    startedAt: str | None = None
    env: dict[str, str] | None = Field(default=None, repr=False, exclude=True)


class GpuType(_Inbound):
    """One entry of RunPod's GPU catalogue (`GET /v2/catalog/gpus`).

    The v2 shape is not confirmed by any source; these are the names of GraphQL's `gpuTypes`,
    which the emulator serves. Only `id` is required, so a renamed field degrades to None.
    """

    id: str
    displayName: str | None = None
    memoryInGb: float | None = None
    manufacturer: str | None = None
    secureCloud: bool | None = None
    communityCloud: bool | None = None
    securePrice: float | None = None
    communityPrice: float | None = None
    stockStatus: str | None = None


# --- outbound: RunPod rejects unknown properties (422), so typos must fail here first. ---


class _Outbound(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RunPodGpuRequest(_Outbound):
    id: str = Field(min_length=1)
    count: int = Field(default=1, ge=1)


class RunPodPersistentMount(_Outbound):
    size: int = Field(ge=1)  # GB
    path: str = "/workspace"


class RunPodMounts(_Outbound):
    persistent: RunPodPersistentMount


class RunPodCreatePod(_Outbound):
    """Body of `POST /v2/pods`. Unset (None) fields are left out so RunPod applies its defaults."""

    name: str = Field(min_length=1)
    image: str = Field(min_length=1)
    gpu: RunPodGpuRequest
    cloud: Literal["SECURE", "COMMUNITY"] | None = None
    disk: int | None = Field(default=None, ge=1)  # container disk, GB
    mounts: RunPodMounts | None = None
    ports: list[str] | None = None
    env: dict[str, str] | None = Field(default=None, repr=False)
    args: str | None = None
    dataCenterIds: list[str] | None = None
    startSsh: bool | None = None
    startJupyter: bool | None = None
    templateId: str | None = None
    registry: str | None = None
    globalNetworking: bool | None = None

    def to_payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)
