"""Failed-login throttling on moto: 5 failures in 15 minutes lock a username until the window ends."""

import pytest

from podgate.config import LoginThrottleSettings
from podgate.errors import TooManyRequests
from podgate.repositories.login_attempts import LoginAttemptsRepository
from podgate.services.login_throttle import LoginThrottle


class Clock:
    now = 1_900_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def throttle(dynamodb_tables):
    clock = Clock()
    table = dynamodb_tables["LoginAttemptsTable"]
    settings = LoginThrottleSettings(table, failure_limit=5, window_seconds=900)
    return LoginThrottle(LoginAttemptsRepository(table), settings, clock), clock


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
