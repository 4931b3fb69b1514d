"""Who is calling: the authorizer's context, confirmed against the users table.

API Gateway caches an authorizer's Allow for up to its TTL, and a token may be revoked inside
that window. So each protected handler re-checks two cheap things the cache cannot know:
the token's expiry (context `exp`) and the user's current state (one GetItem: not disabled,
same role, same token version). That GetItem is where revocation costs least: the handlers
already talk to DynamoDB, while the authorizer stays free of boto3 and its cold start.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

from podgate.errors import Unauthorized
from podgate.models.domain import ROLES, Principal
from podgate.repositories.users import UsersRepository


def principal_from_context(
    context: Mapping[str, Any] | None,
    users: UsersRepository,
    clock: Callable[[], float] = time.time,
) -> Principal:
    ctx = context or {}
    try:
        username = str(ctx["sub"])
        role = str(ctx["role"])
        token_id = str(ctx["jti"])
        expires_at = int(ctx["exp"])
        version = int(ctx["ver"])
    except (KeyError, TypeError, ValueError):
        raise Unauthorized() from None
    if not username or role not in ROLES or expires_at <= clock():
        raise Unauthorized()
    user = users.get(username)
    if user is None or user.disabled or user.role != role or user.token_version != version:
        raise Unauthorized()
    return Principal(username=username, role=user.role, token_id=token_id, expires_at=expires_at)
