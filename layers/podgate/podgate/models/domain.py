"""Plain domain types shared by services and repositories (no pydantic: cheap to import)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Role = Literal["admin", "user"]
ROLES: tuple[Role, ...] = ("admin", "user")


@dataclass(frozen=True)
class Principal:
    """The caller, as the authorizer vouched for it and the users table confirmed."""

    username: str
    role: Role
    token_id: str
    expires_at: int

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


@dataclass(frozen=True)
class User:
    username: str
    password_hash: str
    role: Role
    disabled: bool = False
    # Part of every token; bumping it (password reset, disable) revokes all earlier tokens.
    token_version: int = 0
    created_at: str = ""
    updated_at: str = ""


PENDING_PREFIX = "pending#"


@dataclass(frozen=True)
class PodRecord:
    """Who owns a pod the API created. RunPod stays the source of truth for the pod's state.

    A create first writes a *pending* record (pod_id "pending#<tag>") before it asks RunPod
    for the pod, and replaces it with the real one after: whatever fails in between, a pod
    RunPod started always has a record naming its owner, found again by its create tag.
    """

    pod_id: str
    owner: str
    name: str
    image: str
    gpu_type: str
    gpu_count: int
    created_at: str
    create_tag: str = ""

    @property
    def pending(self) -> bool:
        return self.pod_id.startswith(PENDING_PREFIX)

    @staticmethod
    def pending_id(tag: str) -> str:
        return PENDING_PREFIX + tag
