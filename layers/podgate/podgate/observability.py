"""Powertools Logger for the whole package.

The Logger is named after the service ("podgate"), so every module's plain
`logging.getLogger(__name__)` ("podgate.services.pods", ...) propagates into it and comes out
as the same structured JSON, with the request's correlation id.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "podgate")

logger = Logger(service=SERVICE)
