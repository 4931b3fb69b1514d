"""Users in DynamoDB: key `username`, argon2id hash, role, disabled flag, token version."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from podgate.models.domain import User
from podgate.repositories.dynamo import BotoCoreError, ClientError, Repository, StorageError, error_code


class UserExists(Exception):
    pass


class UserMissing(Exception):
    pass


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _to_user(item: dict[str, Any]) -> User:
    return User(
        username=item["username"]["S"],
        password_hash=item["password_hash"]["S"],
        role=item["role"]["S"],  # type: ignore[arg-type]
        disabled=item.get("disabled", {}).get("BOOL", False),
        token_version=int(item.get("token_version", {}).get("N", "0")),
        created_at=item.get("created_at", {}).get("S", ""),
        updated_at=item.get("updated_at", {}).get("S", ""),
    )


class UsersRepository(Repository):
    def get(self, username: str) -> User | None:
        item = self._call("reading user", "get_item", Key={"username": {"S": username}}).get("Item")
        return _to_user(item) if item else None

    def create(self, username: str, password_hash: str, role: str) -> User:
        now = _now()
        item = {
            "username": {"S": username},
            "password_hash": {"S": password_hash},
            "role": {"S": role},
            "disabled": {"BOOL": False},
            "token_version": {"N": "0"},
            "created_at": {"S": now},
            "updated_at": {"S": now},
        }
        try:
            self.client.put_item(
                TableName=self._table, Item=item, ConditionExpression="attribute_not_exists(username)"
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise UserExists(username) from None
            raise StorageError(f"creating user failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"creating user failed: {exc}") from exc
        return _to_user(item)

    def _update(self, username: str, attributes: dict[str, dict[str, Any]]) -> User:
        """Set attributes and bump token_version: every change here revokes earlier tokens
        (a new password, a disabled account, and a role change, so a token's role claim can
        never outrank the user)."""
        names = {f"#a{i}": name for i, name in enumerate(attributes)}
        values = {f":v{i}": value for i, value in enumerate(attributes.values())}
        sets = ", ".join(f"#a{i} = :v{i}" for i in range(len(attributes)))
        try:
            resp = self.client.update_item(
                TableName=self._table,
                Key={"username": {"S": username}},
                UpdateExpression=f"SET {sets}, updated_at = :now ADD token_version :one",
                ConditionExpression="attribute_exists(username)",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues={**values, ":now": {"S": _now()}, ":one": {"N": "1"}},
                ReturnValues="ALL_NEW",
            )
        except ClientError as exc:
            if error_code(exc) == "ConditionalCheckFailedException":
                raise UserMissing(username) from None
            raise StorageError(f"updating user failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"updating user failed: {exc}") from exc
        return _to_user(resp["Attributes"])

    def set_password(self, username: str, password_hash: str) -> User:
        return self._update(username, {"password_hash": {"S": password_hash}})

    def set_role(self, username: str, role: str) -> User:
        return self._update(username, {"role": {"S": role}})

    def set_disabled(self, username: str, disabled: bool) -> User:
        return self._update(username, {"disabled": {"BOOL": disabled}})

    def list(self) -> list[User]:
        users: list[User] = []
        try:
            for page in self.client.get_paginator("scan").paginate(TableName=self._table):
                users.extend(_to_user(item) for item in page.get("Items", []))
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"listing users failed: {exc}") from exc
        return sorted(users, key=lambda u: u.username)
