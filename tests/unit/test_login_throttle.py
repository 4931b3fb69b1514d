"""Failed-login throttling on moto: 5 failures in 15 minutes lock a username until the window ends."""

import pytest
from moto import mock_aws

from podgate.config import LoginThrottleSettings
from podgate.errors import TooManyRequests
from podgate.repositories.dynamo import dynamodb_client
from podgate.repositories.login_attempts import LoginAttemptsRepository
from podgate.services.login_throttle import LoginThrottle
from podgate_local.template import load_stack


class Clock:
    now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def throttle(monkeypatch):
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    dynamodb_client.cache_clear()
    with mock_aws():
        props = load_stack().tables["LoginAttemptsTable"]
        dynamodb_client().create_table(
            **{k: v for k, v in props.items() if k in ("TableName", "AttributeDefinitions", "KeySchema", "BillingMode")}
        )
        clock = Clock()
        settings = LoginThrottleSettings(props["TableName"], failure_limit=5, window_seconds=900)
        yield LoginThrottle(LoginAttemptsRepository(props["TableName"]), settings, clock), clock
    dynamodb_client.cache_clear()


def test_five_failures_lock_until_the_window_ends(throttle):
    svc, clock = throttle
    for _ in range(5):
        svc.check("alice")
        svc.failed("alice")
        clock.now += 10
    with pytest.raises(TooManyRequests) as info:
        svc.check("alice")
    assert info.value.status == 429 and info.value.headers == {"Retry-After": str(900 - 50)}
    svc.check("bob")  # other usernames are unaffected
    clock.now += 850  # the window opened at the first failure; it has now passed
    assert svc.check("alice") is None


def test_success_resets_the_count(throttle):
    svc, _ = throttle
    for _ in range(4):
        svc.failed("alice")
    attempts = svc.check("alice")
    assert attempts.failures == 4
    svc.succeeded("alice", attempts)
    for _ in range(4):
        svc.failed("alice")
    assert svc.check("alice").failures == 4  # counting started again from zero


def test_an_expired_window_not_yet_removed_by_ttl_starts_a_new_one(throttle):
    svc, clock = throttle
    for _ in range(5):
        svc.failed("alice")
    clock.now += 901  # TTL deletion lags; the item is still there but its window is over
    svc.failed("alice")
    assert svc.check("alice").failures == 1
