"""Repositories against moto, with tables created from template.yaml's own definitions."""

import pytest

from podgate.models.domain import PodRecord
from podgate.repositories.pods import PodRecordsRepository
from podgate.repositories.users import UserExists, UserMissing, UsersRepository


@pytest.fixture
def tables(dynamodb_tables):
    return dynamodb_tables


def test_user_lifecycle_bumps_token_version_on_every_change(tables):
    repo = UsersRepository(tables["UsersTable"])
    created = repo.create("alice", "hash1", "user")
    assert (created.role, created.disabled, created.token_version) == ("user", False, 0)
    with pytest.raises(UserExists):
        repo.create("alice", "hash2", "admin")
    assert repo.set_password("alice", "hash2").token_version == 1
    assert repo.set_role("alice", "admin").token_version == 2
    disabled = repo.set_disabled("alice", True)
    assert disabled.disabled and disabled.token_version == 3
    got = repo.get("alice")
    assert (got.password_hash, got.role, got.disabled, got.token_version) == ("hash2", "admin", True, 3)
    assert repo.get("bob") is None
    with pytest.raises(UserMissing):
        repo.set_role("bob", "admin")
    assert [u.username for u in repo.list()] == ["alice"]


def test_pod_records_by_owner_and_all(tables):
    repo = PodRecordsRepository(tables["PodsTable"])
    for i, owner in enumerate(["alice", "bob", "alice"]):
        repo.put(PodRecord(f"pod{i}", owner, f"n{i}", "img", "Tesla T4", 1, f"2026-12-03T10:00:0{i}Z"))
    assert [r.pod_id for r in repo.list_by_owner("alice")] == ["pod0", "pod2"]
    assert sorted(r.pod_id for r in repo.list_all()) == ["pod0", "pod1", "pod2"]
    assert repo.get("pod1").owner == "bob"
    repo.delete("pod1")
    assert repo.get("pod1") is None
    assert repo.list_by_owner("bob") == []
