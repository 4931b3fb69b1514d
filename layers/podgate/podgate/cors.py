"""CORS for Lambda responses: the one allowed origin comes from the CorsAllowOrigin parameter.

API Gateway answers preflights itself (template.yaml `Cors`) and adds the header to its own
gateway responses; Lambda proxy responses must carry it themselves. The API functions get it
from Powertools' CORSConfig (podgate.http); health, which skips the resolver to stay cheap,
uses `headers()` with the same rule.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

ALLOW_HEADERS = ("Authorization", "Content-Type", "Idempotency-Key")
MAX_AGE_SECONDS = 600


def allowed_origin() -> str:
    return os.environ.get("CORS_ALLOW_ORIGIN", "*").strip() or "*"


def headers(request_headers: Mapping[str, str] | None) -> dict[str, str]:
    """The CORS response headers for a request, or none when its Origin is not allowed."""
    origin = next((v for k, v in (request_headers or {}).items() if k.lower() == "origin"), None)
    allowed = allowed_origin()
    if origin is None or (allowed != "*" and origin != allowed):
        return {}
    return {"Access-Control-Allow-Origin": allowed if allowed == "*" else origin, "Vary": "Origin"}
