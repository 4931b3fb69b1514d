"""Pod ownership records in DynamoDB: key `pod_id`, GSI `owner-index` (owner, created_at)."""

from __future__ import annotations

from typing import Any

from podgate.models.domain import PodRecord
from podgate.repositories.dynamo import BotoCoreError, ClientError, StorageError, dynamodb_client

OWNER_INDEX = "owner-index"


def _to_item(rec: PodRecord) -> dict[str, Any]:
    return {
        "pod_id": {"S": rec.pod_id},
        "owner": {"S": rec.owner},
        "name": {"S": rec.name},
        "image": {"S": rec.image},
        "gpu_type": {"S": rec.gpu_type},
        "gpu_count": {"N": str(rec.gpu_count)},
        "created_at": {"S": rec.created_at},
    }


def _to_record(item: dict[str, Any]) -> PodRecord:
    return PodRecord(
        pod_id=item["pod_id"]["S"],
        owner=item["owner"]["S"],
        name=item.get("name", {}).get("S", ""),
        image=item.get("image", {}).get("S", ""),
        gpu_type=item.get("gpu_type", {}).get("S", ""),
        gpu_count=int(item.get("gpu_count", {}).get("N", "1")),
        created_at=item.get("created_at", {}).get("S", ""),
    )


class PodRecordsRepository:
    def __init__(self, table_name: str, client: Any = None) -> None:
        self._table = table_name
        self._client = client

    @property
    def client(self) -> Any:
        return self._client or dynamodb_client()

    def put(self, record: PodRecord) -> None:
        try:
            self.client.put_item(TableName=self._table, Item=_to_item(record))
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"writing pod record failed: {exc}") from exc

    def get(self, pod_id: str) -> PodRecord | None:
        try:
            resp = self.client.get_item(TableName=self._table, Key={"pod_id": {"S": pod_id}})
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"reading pod record failed: {exc}") from exc
        item = resp.get("Item")
        return _to_record(item) if item else None

    def delete(self, pod_id: str) -> None:
        try:
            self.client.delete_item(TableName=self._table, Key={"pod_id": {"S": pod_id}})
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"deleting pod record failed: {exc}") from exc

    def _collect(self, operation: str, **kwargs: Any) -> list[PodRecord]:
        records: list[PodRecord] = []
        try:
            for page in self.client.get_paginator(operation).paginate(TableName=self._table, **kwargs):
                records.extend(_to_record(item) for item in page.get("Items", []))
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"listing pod records failed: {exc}") from exc
        return records

    def list_by_owner(self, owner: str) -> list[PodRecord]:
        return self._collect(
            "query",
            IndexName=OWNER_INDEX,
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": {"S": owner}},
        )

    def list_all(self) -> list[PodRecord]:
        return self._collect("scan")
