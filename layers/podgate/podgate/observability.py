"""Powertools Logger for the whole package, with secrets redacted on the way out.

The Logger is named after the service ("podgate"), so every module's plain
`logging.getLogger(__name__)` ("podgate.services.pods", ...) propagates into it and comes out
as the same structured JSON, with the request's correlation id.

Redaction happens in the formatter, the last step before a line is written, so it covers
messages, extra keys and tracebacks alike: values under sensitive key names, bearer tokens and
anything JWT-shaped, and every secret value this process has seen (the RunPod key, the signing
keys, pod env values), registered with `redact()`.
"""

from __future__ import annotations

import contextvars
import os
import re
import threading
import warnings
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.metrics import MetricUnit, single_metric

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "podgate")
MASK = "***"
_SENSITIVE_KEYS = frozenset(
    {"password", "new_password", "access_token", "token", "authorization", "api_key", "apikey", "secret",
     "secretstring", "env", "key", "signing_key", "cookie", "set-cookie", "x-api-key"}
)
_PATTERNS = (
    re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*"),  # JWTs
    re.compile(r"(?i)(bearer|basic)\s+[A-Za-z0-9._~+/=-]+"),
    re.compile(r"rpa_[A-Za-z0-9]{8,}"),  # RunPod API keys
)
_MIN_SECRET_LENGTH = 6  # shorter values would mask ordinary words


class _Secrets:
    def __init__(self) -> None:
        self._values: set[str] = set()
        self._lock = threading.Lock()
        self._pattern: re.Pattern[str] | None = None

    def add(self, value: str) -> None:
        if len(value) >= _MIN_SECRET_LENGTH and value not in self._values:
            with self._lock:
                self._values.add(value)
                alternatives = sorted(self._values, key=len, reverse=True)
                self._pattern = re.compile("|".join(re.escape(v) for v in alternatives))

    def scrub(self, text: str) -> str:
        pattern = self._pattern
        return pattern.sub(MASK, text) if pattern else text


_secrets = _Secrets()
# Secrets that belong to the request in progress (pod env values): masked while it runs and
# forgotten after, so a warm container does not collect every user's values for ever.
_request_secrets: contextvars.ContextVar[tuple[str, ...]] = contextvars.ContextVar("request_secrets", default=())


def redact(*values: str | None) -> None:
    """Never let these values reach a log line (the RunPod key, signing keys)."""
    for value in values:
        if value:
            _secrets.add(value)


def redact_for_request(*values: str | None) -> None:
    """Mask these values in every log line until the current request ends (`end_request`)."""
    keep = tuple(v for v in values if v and len(v) >= _MIN_SECRET_LENGTH)
    if keep:
        _request_secrets.set(tuple(sorted({*_request_secrets.get(), *keep}, key=len, reverse=True)))


def end_request() -> None:
    _request_secrets.set(())


def scrub(value: Any, key: str | None = None) -> Any:
    if key is not None and key.lower() in _SENSITIVE_KEYS and value not in (None, "", {}, []):
        return MASK
    if isinstance(value, str):
        for pattern in _PATTERNS:
            value = pattern.sub(lambda m: (m.group(1) + " " if m.lastindex else "") + MASK, value)
        for secret in _request_secrets.get():
            value = value.replace(secret, MASK)
        return _secrets.scrub(value)
    if isinstance(value, dict):
        return {k: scrub(v, str(k)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [scrub(v) for v in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return scrub(str(value))  # exceptions and other objects are logged as their str()


class RedactingFormatter(LambdaPowertoolsFormatter):
    def serialize(self, log: dict[str, Any]) -> str:
        return super().serialize(scrub(log))


logger = Logger(service=SERVICE, logger_formatter=RedactingFormatter())

# CloudWatch metrics as EMF log lines (no API calls, no extra latency), flushed by each
# handler's `metrics.log_metrics`. Most invocations add none; that is not worth a warning.
metrics = Metrics(namespace=os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "Podgate"), service=SERVICE)
warnings.filterwarnings("ignore", message="No application metrics to publish")


def count(name: str, **dimensions: str) -> None:
    """Add 1 to a metric; with dimensions, as its own EMF record (they'd apply to all others)."""
    if not dimensions:
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)
        return
    with single_metric(name=name, unit=MetricUnit.Count, value=1, namespace=metrics.namespace) as metric:
        metric.add_dimension(name="service", value=SERVICE)
        for key, value in dimensions.items():
            metric.add_dimension(name=key, value=value)
