"""POST /auth: username and password in, access token out."""

from __future__ import annotations

import logging

from podgate.errors import InvalidCredentials
from podgate.models.api import AuthRequest, TokenResponse
from podgate.observability import count
from podgate.repositories.users import UsersRepository
from podgate.services import passwords
from podgate.services.login_throttle import LoginThrottle
from podgate.services.tokens import TokenService

log = logging.getLogger(__name__)


class AuthService:
    def __init__(self, users: UsersRepository, tokens: TokenService, throttle: LoginThrottle) -> None:
        self._users = users
        self._tokens = tokens
        self._throttle = throttle

    def login(self, req: AuthRequest) -> TokenResponse:
        attempts = self._throttle.check(req.username)
        user = self._users.get(req.username)
        # Unknown users are checked against a dummy hash: same status, body and about the
        # same time as a wrong password, so /auth does not reveal who has an account.
        ok = passwords.verify_password(user.password_hash if user else None, req.password)
        if not ok or user is None or user.disabled:
            self._throttle.failed(req.username)
            count("LoginFailed")
            log.info("login refused", extra={"username": req.username})
            raise InvalidCredentials()
        self._throttle.succeeded(req.username, attempts)
        issued = self._tokens.issue(subject=user.username, role=user.role, version=user.token_version)
        count("LoginSucceeded")
        log.info("login ok", extra={"username": user.username, "token_id": issued.token_id})
        return TokenResponse(access_token=issued.token, expires_in=issued.expires_in)
