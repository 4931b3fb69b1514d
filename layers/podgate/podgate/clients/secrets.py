"""Secrets through the AWS Parameters and Secrets Lambda Extension.

The extension answers GetSecretValue over HTTP on localhost and caches for SECRETS_MANAGER_TTL.
Reading secrets this way keeps boto3 (about 0.2 s of imports) out of the authorizer's cold
start. The local stack runs an emulator of the same interface, so there is one code path.

A short in-process cache in front of it saves the localhost round trip on warm invocations.
"""

from __future__ import annotations

import http.client
import json
import os
import time
import urllib.parse
from collections.abc import Callable

from podgate.errors import ConfigurationError
from podgate.observability import redact

_DEFAULT_PORT = 2773


class SecretsClient:
    def __init__(
        self,
        *,
        port: int | None = None,
        ttl_seconds: float | None = None,
        timeout: float = 2.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._port = port or int(os.environ.get("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", _DEFAULT_PORT))
        self._ttl = float(os.environ.get("SECRETS_MANAGER_TTL", 300)) if ttl_seconds is None else ttl_seconds
        self._timeout = timeout
        self._clock = clock
        self._cache: dict[str, tuple[float, str]] = {}

    def get(self, secret_id: str, *, max_age: float | None = None) -> str:
        """The secret's string value, at most `max_age` (default: the TTL) seconds old in-process."""
        limit = self._ttl if max_age is None else max_age
        hit = self._cache.get(secret_id)
        now = self._clock()
        if hit and now - hit[0] < limit:
            return hit[1]
        value = self._fetch(secret_id)
        self._cache[secret_id] = (now, value)
        return value

    def _fetch(self, secret_id: str) -> str:
        # The extension authenticates callers by the function's own session token.
        headers = {"X-Aws-Parameters-Secrets-Token": os.environ.get("AWS_SESSION_TOKEN", "")}
        path = "/secretsmanager/get?" + urllib.parse.urlencode({"secretId": secret_id})
        conn = http.client.HTTPConnection("127.0.0.1", self._port, timeout=self._timeout)
        try:
            conn.request("GET", path, headers=headers)
            resp = conn.getresponse()
            payload = resp.read()
        except OSError as exc:
            raise ConfigurationError(f"secrets extension unreachable on port {self._port}: {exc}") from None
        finally:
            conn.close()
        if resp.status != 200:
            # The body may echo AWS's error (never the value); keep it short in the log line.
            raise ConfigurationError(
                f"secret {secret_id!r} unavailable: extension answered {resp.status} {payload[:200]!r}"
            )
        try:
            value = json.loads(payload)["SecretString"]
        except (ValueError, KeyError, TypeError):
            raise ConfigurationError(f"secret {secret_id!r} has no SecretString") from None
        if not isinstance(value, str):
            raise ConfigurationError(f"secret {secret_id!r} has no SecretString")
        redact(value, value.strip())
        return value
