"""Container-scoped singletons, built on first use and reused by every warm invocation.

Nothing here runs at import time: a function pays only for what its first request touches,
and tests can build the same objects with their own settings.
"""

from __future__ import annotations

import contextvars
from functools import cache
from typing import TYPE_CHECKING, Any

from podgate.clients.secrets import SecretsClient
from podgate.config import LoginThrottleSettings, RunPodSettings, TokenSettings, require

if TYPE_CHECKING:
    from podgate.clients.runpod import RunPodClient
    from podgate.repositories.pods import PodRecordsRepository
    from podgate.repositories.users import UsersRepository
    from podgate.services.auth import AuthService
    from podgate.services.gpu_catalog import GpuCatalog
    from podgate.services.pods import PodService
    from podgate.services.tokens import TokenService

# The Lambda context of the invocation in progress; RunPod calls size their timeouts from it.
lambda_context: contextvars.ContextVar[Any] = contextvars.ContextVar("lambda_context", default=None)


def remaining_seconds() -> float | None:
    ctx = lambda_context.get()
    return ctx.get_remaining_time_in_millis() / 1000.0 if ctx is not None else None


@cache
def secrets() -> SecretsClient:
    return SecretsClient()


@cache
def token_service() -> TokenService:
    from podgate.services.tokens import TokenService

    settings = TokenSettings.from_env()
    return TokenService(
        settings, lambda fresh: secrets().get(settings.secret_id, max_age=0 if fresh else None)
    )


@cache
def users() -> UsersRepository:
    from podgate.repositories.users import UsersRepository

    return UsersRepository(require("USERS_TABLE"))


@cache
def pod_records() -> PodRecordsRepository:
    from podgate.repositories.pods import PodRecordsRepository

    return PodRecordsRepository(require("PODS_TABLE"))


@cache
def runpod() -> RunPodClient:
    from podgate.clients.runpod import RunPodClient

    settings = RunPodSettings.from_env()
    return RunPodClient(
        settings.api_url,
        api_key=lambda: secrets().get(settings.secret_id).strip(),
        time_budget=remaining_seconds,
    )


@cache
def gpu_catalog() -> GpuCatalog:
    from podgate.services.gpu_catalog import GpuCatalog

    return GpuCatalog(runpod())


@cache
def pod_service() -> PodService:
    from podgate.services.pods import PodService

    return PodService(runpod(), pod_records(), gpu_catalog())


@cache
def auth_service() -> AuthService:
    from podgate.repositories.login_attempts import LoginAttemptsRepository
    from podgate.services.auth import AuthService
    from podgate.services.login_throttle import LoginThrottle

    settings = LoginThrottleSettings.from_env()
    throttle = LoginThrottle(LoginAttemptsRepository(settings.attempts_table), settings)
    return AuthService(users(), token_service(), throttle)
