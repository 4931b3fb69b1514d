"""Configuration from the environment variables template.yaml sets.

Plain dataclasses rather than pydantic settings: the authorizer and health functions read
their configuration too, and must not pay pydantic's import on a cold start. Each function
reads only the settings it needs; a missing one is a ConfigurationError (500 and a log line),
never a silent default pointing somewhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from podgate.errors import ConfigurationError


def require(name: str) -> str:
    value = os.environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set")
    return value


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError:
        raise ConfigurationError(f"environment variable {name} must be an integer") from None


@dataclass(frozen=True)
class TokenSettings:
    secret_id: str
    issuer: str
    audience: str
    lifetime_seconds: int
    # How long a key keeps verifying after a newer key took over: at least one token lifetime,
    # so no token signed just before a rotation dies early.
    rotation_grace_seconds: int

    @classmethod
    def from_env(cls) -> TokenSettings:
        lifetime = _int("TOKEN_LIFETIME_SECONDS", 3600)
        return cls(
            secret_id=require("JWT_SECRET_ID"),
            issuer=os.environ.get("TOKEN_ISSUER", "podgate"),
            audience=os.environ.get("TOKEN_AUDIENCE", "podgate-api"),
            lifetime_seconds=lifetime,
            rotation_grace_seconds=max(_int("TOKEN_ROTATION_GRACE_SECONDS", 86400), lifetime),
        )


@dataclass(frozen=True)
class RunPodSettings:
    api_url: str
    secret_id: str

    @classmethod
    def from_env(cls) -> RunPodSettings:
        return cls(
            api_url=require("RUNPOD_API_URL").rstrip("/"),
            secret_id=require("RUNPOD_SECRET_ID"),
        )


@dataclass(frozen=True)
class LoginThrottleSettings:
    attempts_table: str
    failure_limit: int
    window_seconds: int

    @classmethod
    def from_env(cls) -> LoginThrottleSettings:
        return cls(
            attempts_table=require("LOGIN_ATTEMPTS_TABLE"),
            failure_limit=_int("LOGIN_FAILURE_LIMIT", 5),
            window_seconds=_int("LOGIN_FAILURE_WINDOW_SECONDS", 900),
        )
