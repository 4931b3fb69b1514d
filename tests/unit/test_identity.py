"""The handlers' own check of the authorizer context: expiry and revocation."""

import time

import pytest

from podgate.errors import Unauthorized
from podgate.models.domain import User
from podgate.services.identity import principal_from_context


class Users:
    def __init__(self, *users: User) -> None:
        self.by_name = {u.username: u for u in users}

    def get(self, name):
        return self.by_name.get(name)


ALICE = User("alice", "h", "user", disabled=False, token_version=2)


def ctx(**over):
    base = {"sub": "alice", "role": "user", "jti": "t1", "exp": str(int(time.time()) + 600), "ver": "2"}
    base.update(over)
    return base


def test_valid_context_gives_principal():
    who = principal_from_context(ctx(), Users(ALICE))
    assert (who.username, who.role, who.is_admin, who.token_id) == ("alice", "user", False, "t1")


@pytest.mark.parametrize(
    "context,users",
    [
        (None, Users(ALICE)),
        ({}, Users(ALICE)),
        (ctx(exp=str(int(time.time()) - 1)), Users(ALICE)),  # cached policy outlived the token
        (ctx(exp="soon"), Users(ALICE)),
        (ctx(ver="1"), Users(ALICE)),  # password reset / role change since issue
        (ctx(role="admin"), Users(ALICE)),  # token role outranks the user
        (ctx(role="root"), Users(ALICE)),
        (ctx(), Users(User("alice", "h", "user", disabled=True, token_version=2))),
        (ctx(), Users()),  # user deleted
    ],
)
def test_rejected_contexts(context, users):
    with pytest.raises(Unauthorized):
        principal_from_context(context, users)
