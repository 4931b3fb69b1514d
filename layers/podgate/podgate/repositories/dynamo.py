"""One DynamoDB client per container, with botocore's own retry and timeout settings.

The endpoint comes from the environment (AWS_ENDPOINT_URL in the local stack, the regional
default in AWS), so production and local runs share this code path exactly.
"""

from __future__ import annotations

from functools import cache
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from podgate.errors import PodgateError

_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=2,
    read_timeout=5,
    tcp_keepalive=True,
)


@cache
def dynamodb_client() -> Any:
    return boto3.client("dynamodb", config=_CONFIG)


class StorageError(PodgateError):
    """DynamoDB failed in a way the caller cannot fix: a 500 with the cause in the log."""


def error_code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


class Repository:
    """One table. botocore errors never leave a repository: they become StorageError, unless
    the caller handles a specific error code itself (conditional writes)."""

    def __init__(self, table_name: str, client: Any = None) -> None:
        self._table = table_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or dynamodb_client()

    def _call(self, what: str, operation: str, **kwargs: Any) -> Any:
        try:
            return getattr(self.client, operation)(TableName=self._table, **kwargs)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"{what} failed: {exc}") from exc


__all__ = ["BotoCoreError", "ClientError", "Repository", "StorageError", "dynamodb_client", "error_code"]
