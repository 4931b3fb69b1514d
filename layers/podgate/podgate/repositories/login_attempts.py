"""Failed-login counters per username, one DynamoDB item each, expiring by TTL.

A fixed window opens at the first failure; DynamoDB's TTL deletes the item some time after
`expires_at`, and reads ignore an item whose window has passed, so the TTL's lag never extends
a lockout.
"""

from __future__ import annotations

from dataclasses import dataclass

from podgate.repositories.dynamo import BotoCoreError, ClientError, Repository, StorageError, error_code


@dataclass(frozen=True)
class Attempts:
    failures: int
    window_ends: int


class LoginAttemptsRepository(Repository):
    def get(self, username: str, now: int) -> Attempts | None:
        key = {"username": {"S": username}}
        item = self._call("reading login attempts", "get_item", Key=key, ConsistentRead=True).get("Item")
        if not item:
            return None
        attempts = Attempts(int(item["failures"]["N"]), int(item["expires_at"]["N"]))
        return attempts if attempts.window_ends > now else None

    def record_failure(self, username: str, now: int, window_seconds: int) -> Attempts:
        """Count one failure: in the open window, or in a new one if none is open."""
        key = {"username": {"S": username}}
        try:
            resp = self.client.update_item(
                TableName=self._table,
                Key=key,
                UpdateExpression="ADD failures :one",
                ConditionExpression="expires_at > :now",
                ExpressionAttributeValues={":one": {"N": "1"}, ":now": {"N": str(now)}},
                ReturnValues="ALL_NEW",
            )
            item = resp["Attributes"]
        except ClientError as exc:
            if error_code(exc) != "ConditionalCheckFailedException":
                raise StorageError(f"counting a failed login failed: {exc}") from exc
            # No open window (no item, or an expired one TTL has not removed yet): start one.
            item = {"failures": {"N": "1"}, "expires_at": {"N": str(now + window_seconds)}}
            try:
                self.client.put_item(TableName=self._table, Item={**key, **item})
            except (ClientError, BotoCoreError) as exc2:
                raise StorageError(f"counting a failed login failed: {exc2}") from exc2
        except BotoCoreError as exc:
            raise StorageError(f"counting a failed login failed: {exc}") from exc
        return Attempts(int(item["failures"]["N"]), int(item["expires_at"]["N"]))

    def clear(self, username: str) -> None:
        self._call("clearing login attempts", "delete_item", Key={"username": {"S": username}})
