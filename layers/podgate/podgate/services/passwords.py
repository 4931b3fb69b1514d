"""Password hashing: argon2id with its parameters recorded in each hash.

Verification is constant-time inside argon2. Unknown users are verified against a dummy hash
so that /auth takes about as long for them as for a wrong password.
"""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


@cache
def _hasher() -> PasswordHasher:
    # RFC 9106's second recommended option (64 MiB, t=3, p=4), fitting 512 MB Lambdas.
    return PasswordHasher(time_cost=3, memory_cost=64 * 1024, parallelism=4)


@cache
def _dummy_hash() -> str:
    return _hasher().hash("podgate-dummy-password-for-timing")


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    """True when the password matches. With no hash, burns the same time and returns False."""
    try:
        return _hasher().verify(password_hash or _dummy_hash(), password) and password_hash is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)


def check_policy(password: str) -> None:
    """Raises ValueError with a user-facing reason when a new password is unacceptable."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
