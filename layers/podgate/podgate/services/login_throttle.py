"""Failed-login throttling per username (API.md: /auth throttles repeated failures with 429).

After `limit` failures inside one window, every attempt for that username (right password or
not, existing user or not) is a 429 with Retry-After until the window ends. Counting unknown
usernames the same way keeps the throttle from revealing which accounts exist, and a
throttled attempt is refused before any password hashing, so it costs us nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from podgate.config import LoginThrottleSettings
from podgate.errors import TooManyRequests
from podgate.observability import count
from podgate.repositories.login_attempts import Attempts, LoginAttemptsRepository


class LoginThrottle:
    def __init__(
        self,
        repo: LoginAttemptsRepository,
        settings: LoginThrottleSettings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repo = repo
        self._limit = settings.failure_limit
        self._window = settings.window_seconds
        self._clock = clock

    def check(self, username: str) -> Attempts | None:
        """Raises TooManyRequests while the username is locked out; else the open window, if any."""
        now = int(self._clock())
        attempts = self._repo.get(username, now)
        if attempts and attempts.failures >= self._limit:
            count("LoginThrottled")
            raise TooManyRequests(
                "Too many failed logins; try again later", retry_after=max(1, attempts.window_ends - now)
            )
        return attempts

    def failed(self, username: str) -> None:
        self._repo.record_failure(username, int(self._clock()), self._window)

    def succeeded(self, username: str, attempts: Attempts | None) -> None:
        if attempts is not None:  # a write only when there is a count to reset
            self._repo.clear(username)
