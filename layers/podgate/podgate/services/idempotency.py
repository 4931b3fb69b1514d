"""`Idempotency-Key` on POST /pods, with Powertools Idempotency on a DynamoDB table with TTL.

The key is scoped to the user (two users may pick the same key) and the body is part of the
record: the same key and body replay the first answer; the same key with another body is a
422; a second request while the first is still running is a 409 with Retry-After and starts
nothing. Failed creates are not stored, so a retry after an error really retries (and the
create's own tag lookup keeps that retry from starting a second pod).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from functools import cache
from typing import Any

from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyInconsistentStateError,
    IdempotencyValidationError,
)

from podgate.errors import Conflict, ValidationFailed

HEADER = "Idempotency-Key"
_KEY = re.compile(r"^[\x21-\x7e]{1,128}$")  # printable ASCII, no spaces, like a UUID or ULID
EXPIRES_AFTER_SECONDS = 24 * 3600
RETRY_AFTER_SECONDS = 2


def validate_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValidationFailed(
            "Invalid Idempotency-Key",
            errors=[{"loc": ["header", HEADER], "msg": "must be 1-128 printable ASCII characters without spaces"}],
        )
    return key


@cache
def _persistence() -> DynamoDBPersistenceLayer:
    return DynamoDBPersistenceLayer(table_name=os.environ["IDEMPOTENCY_TABLE"])


def once(
    username: str, key: str, body: dict[str, Any], lambda_context: Any, work: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    """Run `work` at most once per (user, key, body); answer repeats with its stored result."""
    config = IdempotencyConfig(
        event_key_jmespath="[user, key]",
        payload_validation_jmespath="body",
        expires_after_seconds=EXPIRES_AFTER_SECONDS,
        raise_on_no_idempotency_key=True,
    )
    if lambda_context is not None:
        config.register_lambda_context(lambda_context)

    @idempotent_function(data_keyword_argument="request", persistence_store=_persistence(), config=config)
    def run(request: dict[str, Any]) -> dict[str, Any]:
        return work()

    try:
        return run(request={"user": username, "key": key, "body": body})
    except (IdempotencyAlreadyInProgressError, IdempotencyInconsistentStateError):
        # The second: the record changed under us while another request finished; retrying
        # shortly gets the stored answer.
        raise Conflict(
            "A request with this Idempotency-Key is still in progress",
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        ) from None
    except IdempotencyValidationError:
        raise ValidationFailed(
            "This Idempotency-Key was already used with a different request body",
            errors=[{"loc": ["header", HEADER], "msg": "reused with a different body"}],
        ) from None
