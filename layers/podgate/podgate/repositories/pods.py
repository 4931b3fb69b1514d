"""Pod ownership records in DynamoDB: key `pod_id`, GSI `owner-index` (owner, created_at).

Pending records ("pending#<tag>", see PodRecord) live in the same table so that one query by
owner sees both; readers that want real pods filter them out.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from podgate.models.domain import PodRecord
from podgate.repositories.dynamo import BotoCoreError, ClientError, Repository, StorageError, error_code

OWNER_INDEX = "owner-index"


def _to_item(rec: PodRecord) -> dict[str, Any]:
    item = {
        "pod_id": {"S": rec.pod_id},
        "owner": {"S": rec.owner},
        "name": {"S": rec.name},
        "image": {"S": rec.image},
        "gpu_type": {"S": rec.gpu_type},
        "gpu_count": {"N": str(rec.gpu_count)},
        "created_at": {"S": rec.created_at},
    }
    if rec.create_tag:
        item["create_tag"] = {"S": rec.create_tag}
    return item


def _to_record(item: dict[str, Any]) -> PodRecord:
    return PodRecord(
        pod_id=item["pod_id"]["S"],
        owner=item["owner"]["S"],
        name=item.get("name", {}).get("S", ""),
        image=item.get("image", {}).get("S", ""),
        gpu_type=item.get("gpu_type", {}).get("S", ""),
        gpu_count=int(item.get("gpu_count", {}).get("N", "1")),
        created_at=item.get("created_at", {}).get("S", ""),
        create_tag=item.get("create_tag", {}).get("S", ""),
    )


class PodRecordsRepository(Repository):
    def put(self, record: PodRecord) -> None:
        """Write a record (a create's pending record first: its pod_id is PodRecord.pending_id)."""
        self._call("writing pod record", "put_item", Item=_to_item(record))

    def complete(self, pending: PodRecord, pod_id: str) -> PodRecord:
        """Replace a pending record by the real one, atomically: never neither, never both."""
        record = replace(pending, pod_id=pod_id)
        try:
            self.client.transact_write_items(TransactItems=[
                {"Put": {"TableName": self._table, "Item": _to_item(record)}},
                {"Delete": {"TableName": self._table, "Key": {"pod_id": {"S": pending.pod_id}}}},
            ])
        except ClientError as exc:
            raise StorageError(f"completing pod record failed: {error_code(exc)} {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"completing pod record failed: {exc}") from exc
        return record

    def get(self, pod_id: str) -> PodRecord | None:
        item = self._call("reading pod record", "get_item", Key={"pod_id": {"S": pod_id}}).get("Item")
        return _to_record(item) if item else None

    def delete(self, pod_id: str) -> None:
        self._call("deleting pod record", "delete_item", Key={"pod_id": {"S": pod_id}})

    def _collect(self, operation: str, **kwargs: Any) -> list[PodRecord]:
        records: list[PodRecord] = []
        try:
            for page in self.client.get_paginator(operation).paginate(TableName=self._table, **kwargs):
                records.extend(_to_record(item) for item in page.get("Items", []))
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"listing pod records failed: {exc}") from exc
        return records

    def list_by_owner(self, owner: str, *, include_pending: bool = False) -> list[PodRecord]:
        records = self._collect(
            "query",
            IndexName=OWNER_INDEX,
            KeyConditionExpression="#o = :o",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":o": {"S": owner}},
        )
        return records if include_pending else [r for r in records if not r.pending]

    def list_all(self, *, include_pending: bool = False) -> list[PodRecord]:
        records = self._collect("scan")
        return records if include_pending else [r for r in records if not r.pending]
