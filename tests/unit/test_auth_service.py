"""AuthService: unknown users cost the same hash as known ones, and get the same answer."""

import pytest

from podgate.errors import InvalidCredentials
from podgate.models.api import AuthRequest
from podgate.models.domain import User
from podgate.services import auth as auth_module
from podgate.services import passwords
from podgate.services.auth import AuthService


class Users:
    def __init__(self, *users):
        self.by_name = {u.username: u for u in users}

    def get(self, name):
        return self.by_name.get(name)


class Throttle:
    def __init__(self):
        self.failures, self.successes = [], []

    def check(self, name):
        return None

    def failed(self, name):
        self.failures.append(name)

    def succeeded(self, name, attempts):
        self.successes.append(name)


class Tokens:
    def issue(self, **kw):
        from podgate.services.tokens import IssuedToken

        return IssuedToken(token="t", expires_in=60, token_id="j")


@pytest.fixture
def calls(monkeypatch):
    seen = []
    real = passwords.verify_password

    def spy(password_hash, password):
        seen.append(password_hash)
        return real(password_hash, password)

    monkeypatch.setattr(auth_module.passwords, "verify_password", spy)
    return seen


ALICE = User("alice", passwords.hash_password("alice-password-1"), "user")


def test_unknown_user_is_verified_against_a_dummy_hash(calls):
    throttle = Throttle()
    svc = AuthService(Users(ALICE), Tokens(), throttle)
    with pytest.raises(InvalidCredentials) as unknown:
        svc.login(AuthRequest(username="mallory", password="alice-password-1"))
    with pytest.raises(InvalidCredentials) as wrong:
        svc.login(AuthRequest(username="alice", password="not-her-password"))
    assert calls == [None, ALICE.password_hash]  # the hash ran both times (dummy for None)
    assert (unknown.value.status, unknown.value.body()) == (wrong.value.status, wrong.value.body())
    assert throttle.failures == ["mallory", "alice"]


def test_disabled_user_cannot_log_in_even_with_the_right_password(calls):
    disabled = User("bob", passwords.hash_password("bob-password-12"), "user", disabled=True)
    svc = AuthService(Users(disabled), Tokens(), Throttle())
    with pytest.raises(InvalidCredentials):
        svc.login(AuthRequest(username="bob", password="bob-password-12"))


def test_success_resets_the_throttle(calls):
    throttle = Throttle()
    resp = AuthService(Users(ALICE), Tokens(), throttle).login(
        AuthRequest(username="alice", password="alice-password-1"))
    assert resp.access_token == "t" and throttle.successes == ["alice"]
