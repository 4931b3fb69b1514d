"""A RunPod REST v2 emulator over real HTTP, for local development and tests.

It serves the pod endpoints of https://api.runpod.io/v2 as `shared/reference/runpod-rest-api.md`
(sections 3, 6 and 7) describes them: strict request validation, RFC 9457 problem bodies,
the v2 state machine and its 409s, per-GPU-type capacity with RunPod's own capacity texts,
rate-limit headers, and fault injection for reliability tests. Clients talk to it exactly as
to RunPod, over sockets with keep-alive, so timeouts, resets and retries are the real thing.

Where the sources leave RunPod's behaviour open, the emulator picks one and says so:

* A wrong API key is 401 `invalid api key`. RunPod documents 403 `access denied` for a
  *valid* key without access to a resource, which a single-key emulator cannot model.
* Capacity is the number of *free* GPUs per type (None: unlimited). Create and start take
  `gpu.count` from it; stop, terminate and delete give them back. An unknown GPU id gets the
  capacity problem, as RunPod does (runpodctl PR #260).
* A pod holds its GPUs while PROVISIONING, STARTING or RUNNING; EXITED and ERROR pods do not,
  so starting one needs free GPUs again (the pod is tied to its host, runpod-python #168).
* The shapes of `runtime`, `ssh` and the GPU catalogue entries are not confirmed by any
  source for v2. `publicIp`/`portMappings` are v1 names, emitted so clients can wait for a
  port the way they did on v1. Prices are synthetic, not RunPod's.
* Rate limits are counted in fixed windows with generous default quotas (not RunPod's
  numbers); every authenticated response carries `RateLimit-Policy` and `RateLimit`.

Control endpoints live outside /v2, need no key and are never faulted or logged:
`POST|GET|DELETE /_emulator/faults`, `PUT|GET /_emulator/capacity`, `PUT|GET
/_emulator/rate-limits` (`{"minute": 60}`; null restores the configured quotas), `POST /_emulator/reset`,
`GET /_emulator/state` (pods, capacity, armed and fired faults, request log),
`PATCH /_emulator/pods/{id}` (`{"status": ...}`). Faults (see `Fault`) are armed per test with
`add_fault(...)` or at runtime by POSTing the same rule as JSON to /_emulator/faults, e.g.
`{"kind": "status", "status": 500, "method": "POST", "path": "/v2/pods", "apply": true}`
(RunPod answers 500 but creates the pod anyway) or `{"kind": "rate_limit", "seconds": 1}`.

Run stand-alone: `python -m podgate_local.runpod_emulator --port 8787 --api-key KEY`.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import re
import secrets
import signal
import socket
import string
import struct
import sys
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Annotated, Any, Literal, Self
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)

log = logging.getLogger(__name__)

API_PREFIX = "/v2"
CONTROL_PREFIX = "/_emulator/"

# RunPod's own texts (reference §7 #1, #5). Clients classify capacity errors by these words.
NO_INSTANCES = (
    "There are no longer any instances available with the requested specifications. "
    "Please refresh and try again."
)
NOT_ENOUGH_FREE_GPUS = "There are not enough free GPUs on the host machine to start this pod."
GENERIC_FAILURE = "Something went wrong."

MAX_BODY_BYTES = 1 << 20
DEFAULT_DISK_GB = 50  # v1's containerDiskInGb default; v2's is undocumented
_DATA_CENTERS = ("EU-RO-1", "US-TX-3", "CA-MTL-1", "EU-SE-1", "US-IL-1")
_ID_ALPHABET = string.ascii_lowercase + string.digits

# Reference §5.1 (RunPod docs, 2026-02-12), plus Tesla T4 from the v1 gpuTypeIds enum: the
# seed's `nvidia-t4` must have something to resolve to.
_GPU_TABLE: tuple[tuple[str, str, int], ...] = (
    ("AMD Instinct MI300X OAM", "MI300X", 192),
    ("NVIDIA A100 80GB PCIe", "A100 PCIe", 80),
    ("NVIDIA A100-SXM4-80GB", "A100 SXM", 80),
    ("NVIDIA A30", "A30", 24),
    ("NVIDIA A40", "A40", 48),
    ("NVIDIA B200", "B200", 180),
    ("NVIDIA B300 SXM6 AC", "B300", 288),
    ("NVIDIA GeForce RTX 3070", "RTX 3070", 8),
    ("NVIDIA GeForce RTX 3080", "RTX 3080", 10),
    ("NVIDIA GeForce RTX 3080 Ti", "RTX 3080 Ti", 12),
    ("NVIDIA GeForce RTX 3090", "RTX 3090", 24),
    ("NVIDIA GeForce RTX 3090 Ti", "RTX 3090 Ti", 24),
    ("NVIDIA GeForce RTX 4070 Ti", "RTX 4070 Ti", 12),
    ("NVIDIA GeForce RTX 4080", "RTX 4080", 16),
    ("NVIDIA GeForce RTX 4080 SUPER", "RTX 4080 SUPER", 16),
    ("NVIDIA GeForce RTX 4090", "RTX 4090", 24),
    ("NVIDIA GeForce RTX 5080", "RTX 5080", 16),
    ("NVIDIA GeForce RTX 5090", "RTX 5090", 32),
    ("NVIDIA H100 80GB HBM3", "H100 SXM", 80),
    ("NVIDIA H100 NVL", "H100 NVL", 94),
    ("NVIDIA H100 PCIe", "H100 PCIe", 80),
    ("NVIDIA H200", "H200 SXM", 141),
    ("NVIDIA H200 NVL", "NVIDIA H200 NVL", 143),
    ("NVIDIA L4", "L4", 24),
    ("NVIDIA L40", "L40", 48),
    ("NVIDIA L40S", "L40S", 48),
    ("NVIDIA RTX 2000 Ada Generation", "RTX 2000 Ada", 16),
    ("NVIDIA RTX 4000 Ada Generation", "RTX 4000 Ada", 20),
    ("NVIDIA RTX 4000 SFF Ada Generation", "RTX 4000 Ada SFF", 20),
    ("NVIDIA RTX 5000 Ada Generation", "RTX 5000 Ada", 32),
    ("NVIDIA RTX 6000 Ada Generation", "RTX 6000 Ada", 48),
    ("NVIDIA RTX A2000", "RTX A2000", 6),
    ("NVIDIA RTX A4000", "RTX A4000", 16),
    ("NVIDIA RTX A4500", "RTX A4500", 20),
    ("NVIDIA RTX A5000", "RTX A5000", 24),
    ("NVIDIA RTX A6000", "RTX A6000", 48),
    ("NVIDIA RTX PRO 4500 Blackwell", "RTX PRO 4500", 32),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition", "RTX PRO 6000", 96),
    ("NVIDIA RTX PRO 6000 Blackwell Workstation Edition", "RTX PRO 6000 WK", 96),
    ("NVIDIA RTX PRO 6000 Blackwell Max-Q Workstation Edition", "RTX PRO 6000 MaxQ", 96),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition MIG 1g.24gb", "PRO 6000 MIG 24GB", 24),
    ("NVIDIA RTX PRO 6000 Blackwell Server Edition MIG 2g.48gb", "PRO 6000 MIG 48GB", 48),
    ("Tesla V100-PCIE-16GB", "Tesla V100", 16),
    ("Tesla V100-SXM2-16GB", "V100 SXM2", 16),
    ("Tesla V100-SXM2-32GB", "V100 SXM2 32GB", 32),
    ("Tesla T4", "Tesla T4", 16),
)


def _catalog_entry(gpu_id: str, display_name: str, memory_gb: float) -> dict[str, Any]:
    secure = round(0.1 + 0.02 * memory_gb, 2)
    return {
        "id": gpu_id,
        "displayName": display_name,
        "memoryInGb": memory_gb,
        "manufacturer": "AMD" if gpu_id.startswith("AMD") else "Nvidia",
        "secureCloud": True,
        "communityCloud": True,
        "securePrice": secure,
        "communityPrice": round(secure * 0.7, 2),
    }


def default_gpu_types() -> list[dict[str, Any]]:
    """The default catalogue, one dict per GPU type (without the live `stockStatus`)."""
    return [_catalog_entry(*row) for row in _GPU_TABLE]


# --- pod state machine (reference §3) ---------------------------------------------------------

PodStatus = Literal["PROVISIONING", "STARTING", "RUNNING", "EXITED", "ERROR"]
_ACTIONS: dict[str, tuple[str, ...]] = {
    "PROVISIONING": ("stop", "terminate"),
    "STARTING": ("stop", "terminate"),
    "RUNNING": ("stop", "restart", "terminate"),
    "EXITED": ("start", "terminate"),
    "ERROR": ("start", "terminate"),
}
_HOLDS_GPUS = frozenset({"PROVISIONING", "STARTING", "RUNNING"})


# --- request bodies: strict, like RunPod (unknown properties and wrong JSON types are 422) ---


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class _GpuSpec(_Strict):
    id: str = Field(min_length=1)
    count: int = Field(default=1, ge=1)
    allowedCudaVersions: list[str] | None = None
    minCudaVersion: str | None = None

    @model_validator(mode="after")
    def _one_cuda_constraint(self) -> Self:
        if self.allowedCudaVersions is not None and self.minCudaVersion is not None:
            raise ValueError("allowedCudaVersions and minCudaVersion are mutually exclusive")
        return self


class _CpuSpec(_Strict):
    id: str = Field(min_length=1)
    vcpuCount: int = Field(ge=1)


class _PersistentMount(_Strict):
    size: int = Field(ge=1)
    path: Annotated[str, StringConstraints(pattern=r"^/")]


class _NetworkMount(_Strict):
    volumeId: str = Field(min_length=1)
    path: Annotated[str, StringConstraints(pattern=r"^/")]


class _Mounts(_Strict):
    persistent: _PersistentMount | None = None
    network: list[_NetworkMount] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> Self:
        if (self.persistent is None) == (self.network is None):
            raise ValueError("exactly one of persistent or network is required")
        return self


class CreatePodRequest(_Strict):
    name: str = Field(min_length=1, max_length=191)
    image: str | None = Field(default=None, min_length=1)
    templateId: str | None = None
    cloud: Literal["SECURE", "COMMUNITY"] = "SECURE"
    gpu: _GpuSpec | None = None
    cpu: _CpuSpec | None = None
    disk: int | None = Field(default=None, ge=1)
    mounts: _Mounts | None = None
    ports: list[Annotated[str, StringConstraints(pattern=r"^[0-9]{1,5}/(http|tcp)$")]] = Field(
        default_factory=list
    )
    env: dict[str, str] = Field(default_factory=dict)
    args: str | None = None
    registry: str | None = None
    dataCenterIds: list[str] | None = Field(default=None, min_length=1)
    globalNetworking: bool = False
    startSsh: bool = True
    startJupyter: bool = False

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.gpu is None) == (self.cpu is None):
            raise ValueError("exactly one of gpu or cpu is required")
        if self.image is None and self.templateId is None:
            raise ValueError("image is required unless templateId is given")
        return self


class ActionRequest(_Strict):
    action: Literal["start", "stop", "restart", "terminate"]


class _StatusPatch(_Strict):
    status: PodStatus


# --- fault injection ------------------------------------------------------------------------

FaultKind = Literal["latency", "hang", "status", "malformed", "reset", "capacity", "rate_limit"]
# Kinds whose answer replaces the real one, so "do the work, then fail anyway" makes sense.
_APPLICABLE_KINDS = frozenset({"hang", "status", "malformed", "reset"})


class Fault(BaseModel):
    """One fault-injection rule.

    It matches requests under /v2 by `method` (None: any), `path`, a regular expression
    that must match the whole path (query string excluded), and `gpu` (None: any request;
    else only requests whose JSON body asks for that GPU id, i.e. creates), and fires on the
    next `times` matching requests (None: until cleared). The first armed rule that matches
    wins; one request triggers at most one rule. Every firing is logged (`fired`).

    kinds:
      latency    wait `seconds`, then answer normally
      hang       read the request, answer nothing for `seconds` (None: until stop), then close
      status     answer `status` with `body` (JSON, or a str sent verbatim; default: a problem)
                 and extra `headers` (e.g. Retry-After)
      malformed  answer 200 with invalid JSON (`body` verbatim if given, else a cut-off body)
      reset      close the connection abruptly (TCP RST) instead of answering
      capacity   answer RunPod's 400 "no longer any instances available" problem
                 (with `gpu`: capacity exhausted for that GPU type only)
      rate_limit answer 429 as an exhausted minute window does: RunPod's problem body,
                 `Retry-After: seconds` (default 1, rounded up) and `RateLimit` with r=0;
                 `headers` are added on top

    `apply=True` (hang, status, malformed, reset) performs the real operation first and then
    fails anyway, as when RunPod answered 500 to a create that still started a billed pod.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: FaultKind
    method: str | None = None
    path: str = ".*"
    gpu: str | None = Field(default=None, min_length=1)
    times: int | None = Field(default=None, ge=1)
    seconds: float | None = Field(default=None, ge=0, le=3600)
    status: int | None = Field(default=None, ge=200, le=599)
    body: str | dict[str, Any] | list[Any] | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    apply: bool = False

    @field_validator("method")
    @classmethod
    def _upper(cls, value: str | None) -> str | None:
        return value.upper() if value else None

    @field_validator("path")
    @classmethod
    def _regex(cls, value: str) -> str:
        try:
            re.compile(value)
        except re.error as exc:
            raise ValueError(f"path is not a valid regular expression: {exc}") from None
        return value

    @model_validator(mode="after")
    def _fits_kind(self) -> Self:
        kind = self.kind
        if (self.status is None) == (kind == "status"):
            raise ValueError("status is required for kind 'status' and only allowed there")
        if kind == "latency" and self.seconds is None:
            raise ValueError("seconds is required for kind 'latency'")
        if self.seconds is not None and kind not in ("latency", "hang", "rate_limit"):
            raise ValueError("seconds is only allowed for kinds 'latency', 'hang' and 'rate_limit'")
        if self.body is not None and kind not in ("status", "malformed"):
            raise ValueError("body is only allowed for kinds 'status' and 'malformed'")
        if kind == "malformed" and self.body is not None and not isinstance(self.body, str):
            raise ValueError("a malformed body must be a string")
        if self.headers and kind not in ("status", "capacity", "rate_limit"):
            raise ValueError("headers are only allowed for kinds 'status', 'capacity' and 'rate_limit'")
        if self.apply and kind not in _APPLICABLE_KINDS:
            raise ValueError(f"apply is only allowed for kinds {sorted(_APPLICABLE_KINDS)}")
        return self

    def matches(self, method: str, path: str, body: bytes = b"") -> bool:
        return (
            (self.method is None or self.method == method)
            and re.fullmatch(self.path, path) is not None
            and (self.gpu is None or _requested_gpu(body) == self.gpu)
        )


def _requested_gpu(body: bytes) -> str | None:
    """The GPU id a request body asks for (a create's `gpu.id`), if any."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return None
    gpu = data.get("gpu") if isinstance(data, dict) else None
    gpu_id = gpu.get("id") if isinstance(gpu, dict) else None
    return gpu_id if isinstance(gpu_id, str) else None


@dataclass
class _Armed:
    fault: Fault
    remaining: int | None

    def describe(self) -> dict[str, Any]:
        return {**self.fault.model_dump(mode="json"), "remaining": self.remaining}


# --- responses ------------------------------------------------------------------------------


@dataclass
class _Reply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class _Problem(Exception):
    """Raised inside an endpoint to answer with a problem document."""

    def __init__(self, status: int, detail: str, *, errors: list[str] | None = None) -> None:
        super().__init__(detail)
        self.reply = _problem(status, detail, errors=errors)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


def _json_reply(status: int, payload: Any, content_type: str = "application/json") -> _Reply:
    return _Reply(status, json.dumps(payload).encode(), {"Content-Type": content_type})


def _problem(
    status: int, detail: str, *, errors: list[str] | None = None, headers: Mapping[str, str] | None = None
) -> _Reply:
    doc: dict[str, Any] = {"title": _phrase(status), "status": status, "detail": detail}
    if errors:
        doc["errors"] = errors
    reply = _json_reply(status, doc, "application/problem+json")
    reply.headers.update(headers or {})
    return reply


def _validation_messages(exc: ValidationError) -> list[str]:
    """pydantic errors as RunPod's `"$.path: message"` strings."""
    messages = []
    for err in exc.errors(include_url=False, include_input=False):
        where = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err["loc"])
        kind = err["type"]
        if kind == "extra_forbidden":
            what = "property is not allowed"
        elif kind == "missing":
            what = "property is required"
        elif kind == "literal_error":
            what = f"value must be one of {err['ctx']['expected']}"
        elif kind == "value_error":
            what = str(err["ctx"]["error"])
        else:
            what = err["msg"][:1].lower() + err["msg"][1:]
        messages.append(f"{where}: {what}")
    return messages


def _json_body(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise _Problem(400, "request body must be valid JSON") from None


def _parse[M: BaseModel](model: type[M], body: bytes) -> M:
    data = _json_body(body)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise _Problem(422, "request body failed validation", errors=_validation_messages(exc)) from None


def _rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _random_id(length: int) -> str:
    return "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


# --- rate limits (reference §6) ------------------------------------------------------------

_WINDOW_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
DEFAULT_RATE_LIMITS = {"minute": 1000, "hour": 50_000, "day": 500_000}


@dataclass
class _Window:
    name: str
    quota: int
    seconds: int
    started: float
    used: int = 0

    def roll(self, now: float) -> None:
        if now - self.started >= self.seconds:
            self.started += (now - self.started) // self.seconds * self.seconds
            self.used = 0

    def resets_in(self, now: float) -> int:
        return max(1, math.ceil(self.started + self.seconds - now))


class _RateLimiter:
    """Fixed windows counted together: a request counts against every window, and any
    exhausted window refuses it (429) until that window resets."""

    def __init__(self, quotas: Mapping[str, int], clock: Callable[[], float] = time.monotonic) -> None:
        unknown = set(quotas) - set(_WINDOW_SECONDS)
        if unknown:
            raise ValueError(f"unknown rate-limit windows {sorted(unknown)}; use {list(_WINDOW_SECONDS)}")
        for name, quota in quotas.items():
            if isinstance(quota, bool) or not isinstance(quota, int) or quota < 1:
                raise ValueError(f"the quota of the {name} window must be a positive integer")
        self._quotas = dict(quotas)
        self._clock = clock
        self.reset()

    @property
    def quotas(self) -> dict[str, int]:
        return dict(self._quotas)

    def reset(self) -> None:
        now = self._clock()
        self._windows = [_Window(n, q, _WINDOW_SECONDS[n], now) for n, q in self._quotas.items()]

    def hit(self) -> tuple[_Reply | None, dict[str, str]]:
        now = self._clock()
        for window in self._windows:
            window.roll(now)
        exhausted = [w for w in self._windows if w.used >= w.quota]
        if not exhausted:
            for window in self._windows:
                window.used += 1
        headers = {
            "RateLimit-Policy": ", ".join(f'"{w.name}";q={w.quota};w={w.seconds}' for w in self._windows),
            "RateLimit": ", ".join(
                f'"{w.name}";r={w.quota - w.used};t={w.resets_in(now)}' for w in self._windows
            ),
        }
        if not exhausted:
            return None, headers
        longest = max(exhausted, key=lambda w: w.resets_in(now))
        refusal = _problem(
            429,
            f"rate limit exceeded for the {longest.name} window",
            headers={"Retry-After": str(longest.resets_in(now))},
        )
        return refusal, headers


# --- pods -----------------------------------------------------------------------------------


@dataclass
class _Pod:
    id: str
    spec: CreatePodRequest
    status: str
    machine_id: str
    data_center_id: str
    public_ip: str
    port_mappings: dict[str, int]
    created_at: datetime
    started_at: datetime | None = None
    booted_at: float | None = None  # monotonic; the container is "up" runtime_delay later

    @property
    def gpus(self) -> tuple[str, int] | None:
        return (self.spec.gpu.id, self.spec.gpu.count) if self.spec.gpu else None


# --- the emulator ---------------------------------------------------------------------------

_API_ROUTES: tuple[tuple[re.Pattern[str], dict[str, str]], ...] = (
    (re.compile(r"/v2/pods"), {"GET": "_list_pods", "POST": "_create_pod"}),
    (re.compile(r"/v2/pods/(?P<pod_id>[^/]+)"), {"GET": "_get_pod", "DELETE": "_delete_pod"}),
    (re.compile(r"/v2/pods/(?P<pod_id>[^/]+)/action"), {"POST": "_pod_action"}),
    (re.compile(r"/v2/catalog/gpus"), {"GET": "_list_gpus"}),
)
_CONTROL_ROUTES: tuple[tuple[re.Pattern[str], dict[str, str]], ...] = (
    (
        re.compile(r"/_emulator/faults"),
        {"GET": "_ctl_list_faults", "POST": "_ctl_add_faults", "DELETE": "_ctl_clear_faults"},
    ),
    (re.compile(r"/_emulator/capacity"), {"GET": "_ctl_get_capacity", "PUT": "_ctl_set_capacity"}),
    (re.compile(r"/_emulator/rate-limits"), {"GET": "_ctl_get_rate_limits", "PUT": "_ctl_set_rate_limits"}),
    (re.compile(r"/_emulator/reset"), {"POST": "_ctl_reset"}),
    (re.compile(r"/_emulator/state"), {"GET": "_ctl_state"}),
    (re.compile(r"/_emulator/pods/(?P<pod_id>[^/]+)"), {"PATCH": "_ctl_patch_pod"}),
)


class RunPodEmulator:
    """RunPod REST v2 on a local port. Thread-safe; every request is served on its own thread.

    `capacity` maps GPU ids to free GPUs (types not named are unlimited); `runtime_delay` is
    how long after a (re)start the container counts as up (runtime, public IP, port mappings).
    """

    def __init__(
        self,
        api_key: str,
        host: str = "127.0.0.1",
        port: int = 0,
        gpu_types: list[dict[str, Any]] | None = None,
        capacity: Mapping[str, int | None] | None = None,
        runtime_delay: float = 0.5,
        *,
        rate_limits: Mapping[str, int] | None = None,
    ) -> None:
        if not api_key:
            raise ValueError("api_key must not be empty")
        self._api_key = api_key
        self._host = host
        self._port = port
        self._runtime_delay = runtime_delay
        self._catalog = self._build_catalog(default_gpu_types() if gpu_types is None else gpu_types)
        self._initial_capacity: dict[str, int | None] = dict.fromkeys(self._catalog)
        for gpu_id, free in (capacity or {}).items():
            self._check_capacity(gpu_id, free)
            self._initial_capacity[gpu_id] = free
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._initial_rate_limits = dict(DEFAULT_RATE_LIMITS if rate_limits is None else rate_limits)
        self._limiter = _RateLimiter(self._initial_rate_limits)
        self._pods: dict[str, _Pod] = {}
        self._free = dict(self._initial_capacity)
        self._faults: list[_Armed] = []
        self._requests: list[tuple[str, str]] = []
        self._fired: list[dict[str, Any]] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    @staticmethod
    def _build_catalog(gpu_types: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
        catalog: dict[str, dict[str, Any]] = {}
        for given in gpu_types:
            gpu_id = given.get("id")
            if not isinstance(gpu_id, str) or not gpu_id:
                raise ValueError(f"every GPU type needs a string id: {given!r}")
            base = _catalog_entry(gpu_id, given.get("displayName") or gpu_id, given.get("memoryInGb") or 0)
            catalog[gpu_id] = {**base, **given}
        return catalog

    def _check_capacity(self, gpu_id: str, free: int | None) -> None:
        if gpu_id not in self._catalog:
            raise ValueError(f"unknown GPU type {gpu_id!r}")
        if free is not None and (isinstance(free, bool) or not isinstance(free, int) or free < 0):
            raise ValueError(f"capacity for {gpu_id!r} must be a non-negative integer or None")

    # -- lifecycle --

    def start(self) -> Self:
        """Bind and serve in a background thread; returns at once (the port is bound)."""
        if self._server is not None:
            raise RuntimeError("the emulator is already running")
        self._stopping.clear()
        server = _Server((self._host, self._port), self)
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            # stop() waits up to one poll interval; tests start and stop one emulator each.
            kwargs={"poll_interval": 0.01},
            name=f"runpod-emulator:{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; wakes hanging requests and drops kept-alive connections. Idempotent."""
        server, self._server = self._server, None
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        server.drop_connections()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the emulator is not running")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Base URL of the API, ending in /v2, like RunPod's https://api.runpod.io/v2."""
        return f"http://{self._host}:{self.port}{API_PREFIX}"

    @property
    def control_url(self) -> str:
        return f"http://{self._host}:{self.port}{CONTROL_PREFIX.rstrip('/')}"

    # -- inspection and control (also served under /_emulator) --

    @property
    def pods(self) -> list[dict[str, Any]]:
        """A snapshot of every pod as the API would render it now."""
        with self._lock:
            return [self._render(pod) for pod in self._pods.values()]

    @property
    def request_log(self) -> list[tuple[str, str]]:
        """(method, path) of every request under /v2 so far, query strings left out."""
        with self._lock:
            return list(self._requests)

    @property
    def capacity(self) -> dict[str, int | None]:
        with self._lock:
            return dict(self._free)

    def set_capacity(self, gpu_id: str, free: int | None) -> None:
        """Set the free GPUs of one type (None: unlimited)."""
        with self._lock:
            self._check_capacity(gpu_id, free)
            self._free[gpu_id] = free

    @property
    def rate_limits(self) -> dict[str, int]:
        """The quota of each rate-limit window ({"minute": 1000, ...})."""
        with self._lock:
            return self._limiter.quotas

    def set_rate_limits(self, quotas: Mapping[str, int] | None) -> None:
        """Replace the windows' quotas (None: the configured ones) and restart their counts."""
        limiter = _RateLimiter(self._initial_rate_limits if quotas is None else quotas)
        with self._lock:
            self._limiter = limiter

    def add_fault(self, kind: FaultKind | Fault, **rule: Any) -> Fault:
        """Arm a fault: `add_fault("status", status=503, times=1, path="/v2/pods")`."""
        if isinstance(kind, Fault) and rule:
            raise TypeError("pass either a Fault or a kind with its fields, not both")
        fault = kind if isinstance(kind, Fault) else Fault(kind=kind, **rule)
        with self._lock:
            self._faults.append(_Armed(fault, fault.times))
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def fired(self) -> list[dict[str, Any]]:
        """Every fault that fired so far, oldest first: {"kind", "status", "method", "path", "apply"}."""
        with self._lock:
            return [dict(f) for f in self._fired]

    @property
    def faults(self) -> list[dict[str, Any]]:
        """The armed rules, each with how many times it will still fire (None: forever)."""
        with self._lock:
            return [armed.describe() for armed in self._faults]

    def set_pod_status(self, pod_id: str, status: PodStatus) -> dict[str, Any]:
        """Force a pod into a state (e.g. ERROR) that the API alone cannot reach."""
        with self._lock:
            pod = self._pods.get(pod_id)
            if pod is None:
                raise KeyError(pod_id)
            if status == pod.status:
                return self._render(pod)
            holds, will_hold = pod.status in _HOLDS_GPUS, status in _HOLDS_GPUS
            if will_hold and not holds and not self._take(pod):
                raise ValueError(f"no free GPUs to move pod {pod_id} to {status}")
            if holds and not will_hold:
                self._release(pod)
            if status == "RUNNING":
                self._boot(pod)
            else:
                pod.status, pod.booted_at = status, None
            return self._render(pod)

    def reset(self) -> None:
        """Forget pods, faults (armed and fired), the request log and rate-limit counts;
        restore the capacity."""
        with self._lock:
            self._pods.clear()
            self._free = dict(self._initial_capacity)
            self._faults.clear()
            self._fired.clear()
            self._requests.clear()
            self._limiter.reset()

    def state(self) -> dict[str, Any]:
        with self._lock:
            return {
                "pods": self.pods,
                "capacity": self.capacity,
                "faults": self.faults,
                "fired": self.fired,
                "requests": [list(r) for r in self._requests],
            }

    # -- what the HTTP handler calls --

    def wait(self, seconds: float | None) -> None:
        """Sleep that stop() cuts short, so a hanging request never outlives the emulator."""
        self._stopping.wait(seconds)

    def record(self, method: str, path: str) -> None:
        with self._lock:
            self._requests.append((method, path))

    def take_fault(self, method: str, path: str, body: bytes = b"") -> Fault | None:
        with self._lock:
            for armed in self._faults:
                if armed.fault.matches(method, path, body):
                    if armed.remaining is not None:
                        armed.remaining -= 1
                        if armed.remaining == 0:
                            self._faults.remove(armed)
                    fault = armed.fault
                    self._fired.append(
                        {"kind": fault.kind, "status": fault.status, "method": method, "path": path,
                         "apply": fault.apply}
                    )
                    return fault
        return None

    def api(self, method: str, path: str, authorization: str | None, body: bytes) -> _Reply:
        denied = self._authenticate(authorization)
        if denied is not None:
            return denied
        with self._lock:
            refusal, limit_headers = self._limiter.hit()
        reply = refusal or self._dispatch(_API_ROUTES, method, path, body)
        reply.headers.update(limit_headers)
        return reply

    def control(self, method: str, path: str, body: bytes) -> _Reply:
        return self._dispatch(_CONTROL_ROUTES, method, path, body)

    def _authenticate(self, authorization: str | None) -> _Reply | None:
        scheme, _, token = (authorization or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            return _problem(401, "missing bearer token")
        if not secrets.compare_digest(token.encode(), self._api_key.encode()):
            return _problem(401, "invalid api key")
        return None

    def _dispatch(
        self, routes: tuple[tuple[re.Pattern[str], dict[str, str]], ...], method: str, path: str, body: bytes
    ) -> _Reply:
        for pattern, handlers in routes:
            match = pattern.fullmatch(path)
            if match is None:
                continue
            name = handlers.get(method)
            if name is None:
                reply = _problem(405, f"method {method} is not allowed on this path")
                reply.headers["Allow"] = ", ".join(handlers)
                return reply
            try:
                return getattr(self, name)(body, **match.groupdict())
            except _Problem as problem:
                return problem.reply
        return _problem(404, "no such resource")

    # -- /v2 endpoints --

    def _list_pods(self, body: bytes) -> _Reply:
        return _json_reply(200, {"pods": self.pods})

    def _get_pod(self, body: bytes, pod_id: str) -> _Reply:
        with self._lock:
            return _json_reply(200, self._render(self._find(pod_id)))

    def _create_pod(self, body: bytes) -> _Reply:
        spec = _parse(CreatePodRequest, body)
        with self._lock:
            if spec.gpu and spec.gpu.id not in self._catalog:
                raise _Problem(400, NO_INSTANCES)
            pod = _Pod(
                id=self._new_pod_id(),
                spec=spec,
                status="PROVISIONING",
                machine_id=_random_id(12),
                data_center_id=spec.dataCenterIds[0] if spec.dataCenterIds else secrets.choice(_DATA_CENTERS),
                public_ip=f"203.0.113.{secrets.randbelow(254) + 1}",  # TEST-NET-3: never routable
                port_mappings={
                    p.split("/")[0]: 10000 + secrets.randbelow(50000)
                    for p in spec.ports
                    if p.endswith("/tcp")
                },
                created_at=datetime.now(UTC),
            )
            if not self._take(pod):
                raise _Problem(400, NO_INSTANCES)
            # RunPod reports RUNNING (the desired state) at once; readiness comes later.
            self._boot(pod)
            self._pods[pod.id] = pod
            return _json_reply(201, self._render(pod))

    def _delete_pod(self, body: bytes, pod_id: str) -> _Reply:
        with self._lock:
            self._terminate(self._find(pod_id))
        return _Reply(204)

    def _pod_action(self, body: bytes, pod_id: str) -> _Reply:
        action = _parse(ActionRequest, body).action
        with self._lock:
            pod = self._find(pod_id)
            if action not in _ACTIONS[pod.status]:
                raise _Problem(409, f"cannot {action} a pod whose status is {pod.status}")
            if action == "terminate":
                self._terminate(pod)
                return _Reply(204)
            if action == "stop":
                self._release(pod)
                pod.status, pod.booted_at = "EXITED", None
            elif action == "start":
                if not self._take(pod):
                    raise _Problem(400, NOT_ENOUGH_FREE_GPUS)
                self._boot(pod)
            else:  # restart: same host, same GPUs, a fresh container
                self._boot(pod)
            return _json_reply(200, self._render(pod))

    def _list_gpus(self, body: bytes) -> _Reply:
        """GET /v2/catalog/gpus. No source shows this v2 answer: the entries use the field names
        of GraphQL's gpuTypes, wrapped as {"gpus": [...]} like /v2/pods. Clients should accept a
        bare list too."""
        with self._lock:
            gpus = [{**entry, "stockStatus": self._stock(gpu_id)} for gpu_id, entry in self._catalog.items()]
        return _json_reply(200, {"gpus": gpus})

    # -- /_emulator endpoints --

    def _ctl_list_faults(self, body: bytes) -> _Reply:
        return _json_reply(200, {"faults": self.faults})

    def _ctl_add_faults(self, body: bytes) -> _Reply:
        data = _json_body(body)
        rules = data if isinstance(data, list) else [data]
        try:
            faults = [Fault.model_validate(rule) for rule in rules]
        except ValidationError as exc:
            raise _Problem(422, "invalid fault rule", errors=_validation_messages(exc)) from None
        for fault in faults:
            self.add_fault(fault)
        return _json_reply(201, {"faults": self.faults})

    def _ctl_clear_faults(self, body: bytes) -> _Reply:
        self.clear_faults()
        return _Reply(204)

    def _ctl_get_capacity(self, body: bytes) -> _Reply:
        return _json_reply(200, {"capacity": self.capacity})

    def _ctl_set_capacity(self, body: bytes) -> _Reply:
        data = _json_body(body)
        if not isinstance(data, dict):
            raise _Problem(422, "body must be an object of GPU id to free GPUs (or null)")
        with self._lock:
            try:
                for gpu_id, free in data.items():
                    self._check_capacity(gpu_id, free)
            except ValueError as exc:
                raise _Problem(422, str(exc)) from None
            self._free.update(data)
        return _json_reply(200, {"capacity": self.capacity})

    def _ctl_get_rate_limits(self, body: bytes) -> _Reply:
        return _json_reply(200, {"rate_limits": self.rate_limits})

    def _ctl_set_rate_limits(self, body: bytes) -> _Reply:
        data = _json_body(body)
        if data is not None and not isinstance(data, dict):
            raise _Problem(422, "body must be an object of window name to quota, or null for the defaults")
        try:
            self.set_rate_limits(data)
        except ValueError as exc:
            raise _Problem(422, str(exc)) from None
        return _json_reply(200, {"rate_limits": self.rate_limits})

    def _ctl_reset(self, body: bytes) -> _Reply:
        self.reset()
        return _Reply(204)

    def _ctl_state(self, body: bytes) -> _Reply:
        return _json_reply(200, self.state())

    def _ctl_patch_pod(self, body: bytes, pod_id: str) -> _Reply:
        status = _parse(_StatusPatch, body).status
        try:
            return _json_reply(200, self.set_pod_status(pod_id, status))
        except KeyError:
            raise _Problem(404, "pod not found") from None
        except ValueError as exc:
            raise _Problem(409, str(exc)) from None

    # -- state helpers; callers hold the lock --

    def _find(self, pod_id: str) -> _Pod:
        pod = self._pods.get(pod_id)
        if pod is None:
            raise _Problem(404, "pod not found")
        return pod

    def _new_pod_id(self) -> str:
        while (pod_id := _random_id(14)) in self._pods:
            pass
        return pod_id

    def _take(self, pod: _Pod) -> bool:
        if pod.gpus is None:
            return True
        gpu_id, count = pod.gpus
        free = self._free.get(gpu_id)
        if free is None:
            return True
        if free < count:
            return False
        self._free[gpu_id] = free - count
        return True

    def _release(self, pod: _Pod) -> None:
        if pod.gpus is None or pod.status not in _HOLDS_GPUS:
            return
        gpu_id, count = pod.gpus
        free = self._free.get(gpu_id)
        if free is not None:
            self._free[gpu_id] = free + count

    def _terminate(self, pod: _Pod) -> None:
        self._release(pod)
        del self._pods[pod.id]

    def _boot(self, pod: _Pod) -> None:
        pod.status = "RUNNING"
        pod.started_at = datetime.now(UTC)
        pod.booted_at = time.monotonic()

    def _stock(self, gpu_id: str) -> str | None:
        free = self._free.get(gpu_id)
        if free is None or free >= 8:
            return "High"
        if free >= 3:
            return "Medium"
        return "Low" if free else None

    def _price(self, pod: _Pod) -> float:
        spec = pod.spec
        if spec.gpu is None:
            return round(0.03 * spec.cpu.vcpuCount, 2) if spec.cpu else 0.0
        entry = self._catalog[spec.gpu.id]
        per_gpu = entry["securePrice"] if spec.cloud == "SECURE" else entry["communityPrice"]
        return round(float(per_gpu) * spec.gpu.count, 2)

    def _render(self, pod: _Pod) -> dict[str, Any]:
        spec = pod.spec
        up = (
            pod.status == "RUNNING"
            and pod.booted_at is not None
            and time.monotonic() >= pod.booted_at + self._runtime_delay
        )
        doc: dict[str, Any] = {
            "id": pod.id,
            "name": spec.name,
            "status": pod.status,
            "actions": list(_ACTIONS[pod.status]),
            "image": spec.image,
            "args": spec.args or "",
            "disk": spec.disk or DEFAULT_DISK_GB,
            "mounts": spec.mounts.model_dump(exclude_none=True) if spec.mounts else None,
            "ports": list(spec.ports),
            "env": dict(spec.env),
            "registry": spec.registry,
            "cloud": spec.cloud,
            "dataCenterId": pod.data_center_id,
            "cudaVersion": "12.8" if spec.gpu else None,
            "ssh": self._ssh(pod, up),
            "template": {"id": spec.templateId} if spec.templateId else None,
            "cost": self._price(pod) if pod.status in _HOLDS_GPUS else 0.0,
            "locked": False,
            "globalNetworking": {"enabled": spec.globalNetworking},
            "runtime": self._runtime(pod) if up else None,
            "publicIp": pod.public_ip if up else None,
            "portMappings": dict(pod.port_mappings) if up else None,
            "createdAt": _rfc3339(pod.created_at),
            "startedAt": _rfc3339(pod.started_at) if pod.started_at else None,
        }
        if spec.gpu:
            display = self._catalog[spec.gpu.id]["displayName"]
            doc["gpu"] = {"id": spec.gpu.id, "count": spec.gpu.count, "displayName": display}
        elif spec.cpu:
            doc["cpu"] = {"id": spec.cpu.id, "vcpuCount": spec.cpu.vcpuCount}
        return doc

    @staticmethod
    def _ssh(pod: _Pod, up: bool) -> dict[str, str | None]:
        proxy = f"{pod.id}-{pod.machine_id[:8]}@ssh.runpod.io" if pod.spec.startSsh else None
        ssh_port = pod.port_mappings.get("22")
        direct = f"root@{pod.public_ip} -p {ssh_port}" if up and ssh_port else None
        return {"proxy": proxy, "direct": direct}

    def _runtime(self, pod: _Pod) -> dict[str, Any]:
        booted = pod.booted_at or time.monotonic()
        return {
            "uptimeInSeconds": int(time.monotonic() - booted),
            "ports": [
                {"ip": pod.public_ip, "isIpPublic": True, "privatePort": int(private), "publicPort": public,
                 "type": "tcp"}
                for private, public in pod.port_mappings.items()
            ],
        }


# --- HTTP plumbing --------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # stop() must not wait for a handler stuck in a hang fault or an idle keep-alive read;
    # drop_connections() and the stop event end those threads instead.
    block_on_close = False

    def __init__(self, address: tuple[str, int], emulator: RunPodEmulator) -> None:
        self.emulator = emulator
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def track(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.add(conn)

    def untrack(self, conn: socket.socket) -> None:
        with self._connections_lock:
            self._connections.discard(conn)

    def drop_connections(self) -> None:
        """Shut down kept-alive sockets: a stopped emulator must not keep answering on them."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    def handle_error(self, request: Any, client_address: Any) -> None:
        if isinstance(sys.exception(), OSError):
            return  # the client went away mid-answer; nothing to report
        log.exception("RunPod emulator: unhandled error serving %s", client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, like RunPod behind its load balancer
    server_version = "RunPodEmulator/1.0"
    timeout = 60  # an idle kept-alive connection is closed after this long
    # Headers and body go out in two writes; with Nagle's algorithm the body would wait for
    # the client's delayed ACK (~40 ms on Linux) on every keep-alive request.
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s " + format, self.address_string(), *args)

    def do_GET(self) -> None:
        try:
            self._handle()
        except OSError:
            self.close_connection = True
        except Exception:
            log.exception("RunPod emulator: %s %s failed", self.command, self.path)
            self._send(_problem(500, GENERIC_FAILURE))

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _handle(self) -> None:
        emulator = self.server.emulator
        path = urlsplit(self.path).path
        body = self._read_body()
        if body is None:
            return
        if path.startswith(CONTROL_PREFIX):
            self._send(emulator.control(self.command, path, body))
            return
        emulator.record(self.command, path)
        fault = emulator.take_fault(self.command, path, body)
        if fault is None:
            self._send(self._serve(path, body))
        else:
            self._inject(fault, path, body)

    def _serve(self, path: str, body: bytes) -> _Reply:
        return self.server.emulator.api(self.command, path, self.headers.get("Authorization"), body)

    def _read_body(self) -> bytes | None:
        """The whole request body (always read, so the connection can carry the next request)."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._send(_problem(411, "chunked request bodies are not supported"), close=True)
            return None
        raw = self.headers.get("Content-Length", "0").strip()
        if not raw.isdigit():
            self._send(_problem(400, "invalid Content-Length"), close=True)
            return None
        if int(raw) > MAX_BODY_BYTES:
            self._send(_problem(413, "request body too large"), close=True)
            return None
        return self.rfile.read(int(raw))

    def _inject(self, fault: Fault, path: str, body: bytes) -> None:
        emulator = self.server.emulator
        if fault.kind == "latency":
            emulator.wait(fault.seconds)
            self._send(self._serve(path, body))
            return
        real = self._serve(path, body) if fault.apply else None
        if fault.kind == "hang":
            emulator.wait(fault.seconds)
            self.close_connection = True
        elif fault.kind == "reset":
            self._reset()
        elif fault.kind == "malformed":
            self._send(_malformed_reply(fault, real))
        elif fault.kind == "capacity":
            self._send(_problem(400, NO_INSTANCES, headers=fault.headers))
        elif fault.kind == "rate_limit":
            self._send(_rate_limit_reply(fault))
        else:
            self._send(_status_reply(fault))

    def _reset(self) -> None:
        # SO_LINGER with a zero timeout makes close() send RST instead of FIN: the client sees
        # "connection reset by peer", as when a load balancer drops a connection.
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.close_connection = True
        self.connection.close()

    def _send(self, reply: _Reply, *, close: bool = False) -> None:
        self.send_response(reply.status)
        for name, value in reply.headers.items():
            self.send_header(name, value)
        if reply.status >= 200 and reply.status not in (204, 304):
            self.send_header("Content-Length", str(len(reply.body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        if reply.body and self.command != "HEAD" and reply.status not in (204, 304):
            self.wfile.write(reply.body)


def _status_reply(fault: Fault) -> _Reply:
    status, body = fault.status or 500, fault.body
    if body is None:
        reply = _problem(status, GENERIC_FAILURE if status >= 500 else _phrase(status))
    elif isinstance(body, str):
        reply = _Reply(status, body.encode(), {"Content-Type": "text/plain; charset=utf-8"})
    else:
        problem = status >= 400 and isinstance(body, dict)
        reply = _json_reply(status, body, "application/problem+json" if problem else "application/json")
    reply.headers.update(fault.headers)
    return reply


def _rate_limit_reply(fault: Fault) -> _Reply:
    wait = max(0, math.ceil(1 if fault.seconds is None else fault.seconds))
    headers = {
        "Retry-After": str(wait),
        "RateLimit-Policy": '"minute";q=1000;w=60',
        "RateLimit": f'"minute";r=0;t={max(1, wait)}',
        **fault.headers,
    }
    return _problem(429, "rate limit exceeded for the minute window", headers=headers)


def _malformed_reply(fault: Fault, real: _Reply | None) -> _Reply:
    if isinstance(fault.body, str):
        raw = fault.body.encode()
    elif real is not None and len(real.body) > 1:
        raw = real.body[: len(real.body) // 2]  # the answer cut off half-way
    else:
        raw = b'{"pods": [{"id": '
    return _Reply(200, raw, {"Content-Type": "application/json"})


# --- command line ---------------------------------------------------------------------------


def _capacity_arg(text: str) -> tuple[str, int]:
    gpu_id, sep, count = text.rpartition("=")
    if not sep or not gpu_id or not count.isdigit():
        raise argparse.ArgumentTypeError(f"expected GPU_ID=N, got {text!r}")
    return gpu_id, int(count)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m podgate_local.runpod_emulator", description="Serve a RunPod REST v2 emulator."
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--api-key", required=True, help="the key clients must send as a bearer token")
    parser.add_argument("--runtime-delay", type=float, default=0.5, help="seconds until a started pod is up")
    parser.add_argument(
        "--capacity", type=_capacity_arg, action="append", default=[], metavar="GPU_ID=N",
        help="free GPUs of one type (repeatable); unnamed types are unlimited",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        emulator = RunPodEmulator(
            api_key=args.api_key,
            host=args.host,
            port=args.port,
            capacity=dict(args.capacity),
            runtime_delay=args.runtime_delay,
        )
    except ValueError as exc:
        parser.error(str(exc))
    with emulator:
        # The URL on stdout is how a parent process learns the port it asked to be picked.
        print(emulator.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
