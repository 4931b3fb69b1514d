"""Access tokens: HS256 JWTs signed with a keyring kept in Secrets Manager.

RFC 8725 in practice: one algorithm, pinned when verifying; the header may not bring its own
key material (jwk, jku, x5u, x5c) and must name a key we know (kid); iss, aud, exp, nbf, iat,
sub and jti are required. HS256 keeps `cryptography` out of the layer and the authorizer fast.

Keyring (the secret's JSON). CloudFormation generates the first form; rotation writes the second:
    {"kid": "k1", "key": "<random>"}
    {"keys": [{"kid": "k1", "key": "...", "active_from": 0},
              {"kid": "k2", "key": "...", "active_from": 1764000000}]}
A key signs from its `active_from`; rotation sets that a little in the future so that every
verifier's cached keyring already knows the new key before any token is signed with it. An
older key keeps verifying until its successor has been active for the grace period.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt

from podgate.config import TokenSettings
from podgate.errors import ConfigurationError, Unauthorized
from podgate.models.domain import ROLES
from podgate.observability import redact

ALGORITHM = "HS256"
MAX_TOKEN_BYTES = 4096
CLOCK_SKEW_SECONDS = 5
REQUIRED_CLAIMS = ("sub", "role", "iat", "nbf", "exp", "iss", "aud", "jti", "ver")
_FORBIDDEN_HEADERS = frozenset({"jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256", "crit"})
# An unknown kid triggers at most one keyring refresh per this many seconds, so forged kids
# cannot turn the authorizer into a load generator against Secrets Manager.
_REFRESH_INTERVAL_SECONDS = 30.0


@dataclass(frozen=True)
class SigningKey:
    kid: str
    key: bytes
    active_from: float


@dataclass(frozen=True)
class Keyring:
    keys: tuple[SigningKey, ...]  # oldest first

    @classmethod
    def parse(cls, text: str) -> Keyring:
        try:
            data = json.loads(text)
            entries = data["keys"] if "keys" in data else [{"kid": data["kid"], "key": data["key"]}]
            keys = tuple(
                sorted(
                    (
                        SigningKey(str(e["kid"]), str(e["key"]).encode(), float(e.get("active_from", 0)))
                        for e in entries
                    ),
                    key=lambda k: k.active_from,
                )
            )
        except (ValueError, KeyError, TypeError, AttributeError):
            raise ConfigurationError("signing keyring secret is malformed") from None
        if not keys or any(len(k.key) < 32 for k in keys):
            raise ConfigurationError("signing keyring needs at least one key of 32+ bytes")
        redact(*(k.key.decode() for k in keys))
        return cls(keys)

    def to_json(self) -> str:
        return json.dumps(
            {"keys": [{"kid": k.kid, "key": k.key.decode(), "active_from": k.active_from} for k in self.keys]}
        )

    def signing_key(self, now: float) -> SigningKey:
        active = [k for k in self.keys if k.active_from <= now]
        return active[-1] if active else self.keys[0]

    def verification_key(self, kid: str, now: float, grace_seconds: float) -> SigningKey | None:
        for i, key in enumerate(self.keys):
            if key.kid != kid:
                continue
            successor = self.keys[i + 1] if i + 1 < len(self.keys) else None
            if successor and now > successor.active_from + grace_seconds:
                return None  # retired
            return key
        return None


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_in: int
    token_id: str


class TokenService:
    def __init__(
        self,
        settings: TokenSettings,
        keyring_text: Callable[[bool], str],
        *,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        """`keyring_text(fresh)` returns the keyring secret; fresh=True bypasses local caches."""
        self._settings = settings
        self._keyring_text = keyring_text
        self._clock = clock
        self._monotonic = monotonic
        self._last_refresh = -_REFRESH_INTERVAL_SECONDS

    def _keyring(self, fresh: bool = False) -> Keyring:
        return Keyring.parse(self._keyring_text(fresh))

    def issue(self, *, subject: str, role: str, version: int) -> IssuedToken:
        now = int(self._clock())
        key = self._keyring().signing_key(now)
        token_id = uuid.uuid4().hex
        lifetime = self._settings.lifetime_seconds
        claims = {
            "sub": subject,
            "role": role,
            "ver": version,
            "iss": self._settings.issuer,
            "aud": self._settings.audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime,
            "jti": token_id,
        }
        token = jwt.encode(claims, key.key, algorithm=ALGORITHM, headers={"kid": key.kid, "typ": "JWT"})
        return IssuedToken(token=token, expires_in=lifetime, token_id=token_id)

    def verify(self, token: str) -> dict[str, Any]:
        """The token's claims, or Unauthorized. Never says why to the caller; logs may."""
        if not token or len(token) > MAX_TOKEN_BYTES:
            raise Unauthorized()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise Unauthorized() from None
        kid = header.get("kid")
        if (
            header.get("alg") != ALGORITHM
            or header.get("typ", "JWT") != "JWT"
            or _FORBIDDEN_HEADERS.intersection(header)
            or not isinstance(kid, str)
        ):
            raise Unauthorized()
        now = self._clock()
        grace = self._settings.rotation_grace_seconds
        key = self._keyring().verification_key(kid, now, grace)
        if key is None and self._monotonic() - self._last_refresh >= _REFRESH_INTERVAL_SECONDS:
            # A kid we don't know may be a key rotated in after our cached copy: look once more.
            self._last_refresh = self._monotonic()
            key = self._keyring(fresh=True).verification_key(kid, now, grace)
        if key is None:
            raise Unauthorized()
        try:
            claims = jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                audience=self._settings.audience,
                issuer=self._settings.issuer,
                leeway=CLOCK_SKEW_SECONDS,
                options={"require": list(REQUIRED_CLAIMS), "verify_iat": True},
            )
        except jwt.PyJWTError:
            raise Unauthorized() from None
        if (
            not isinstance(claims.get("sub"), str)
            or not claims["sub"]
            or claims.get("role") not in ROLES
            or not isinstance(claims.get("jti"), str)
            or type(claims.get("ver")) is not int
            or type(claims.get("exp")) is not int
        ):
            raise Unauthorized()
        return claims
