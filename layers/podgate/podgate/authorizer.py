"""The TOKEN authorizer's logic: verify the Bearer JWT, answer with an Allow policy.

Every failure raises the literal Exception("Unauthorized"), which API Gateway turns into a 401;
a Deny policy would be a 403, and any other error a 500. The Allow covers every /pods route
because API Gateway caches the policy per token and reuses it for the caller's next requests
on other routes. Which pods a caller may touch is decided by the handlers, not here.

Kept free of boto3, requests and pydantic: this runs before every uncached request. For the
same reason the policy is built here rather than with Powertools' APIGatewayAuthorizerResponse:
importing it loads every Powertools event class (about 20 ms on each cold start) to produce
one small, fixed document, which tests/unit/test_authorizer.py compares whole.
"""

from __future__ import annotations

import logging
from typing import Any

from podgate import runtime
from podgate.errors import PodgateError
from podgate.observability import count

# Imported during init, not on the first request: every cold authorizer verifies a token
# right away, and Lambda gives the init phase a full CPU.
from podgate.services import tokens  # noqa: F401

log = logging.getLogger(__name__)

# Every method on these resources: both roles may call every /pods route.
PROTECTED_RESOURCES = ("*/pods", "*/pods/*")


def bearer_token(header_value: str | None) -> str | None:
    """The token of an `Authorization: Bearer <token>` header; the scheme is case-insensitive,
    and anything else (other schemes, extra spaces, missing token) is no token at all."""
    if not header_value:
        return None
    scheme, sep, token = header_value.partition(" ")
    if not sep or scheme.lower() != "bearer" or not token or " " in token:
        return None
    return token


def authorize(event: dict[str, Any]) -> dict[str, Any]:
    token = bearer_token(event.get("authorizationToken"))
    if token is None:
        count("AuthorizerDenied")
        log.info("authorizer: no bearer token")
        raise Exception("Unauthorized")  # API Gateway turns exactly this message into a 401
    try:
        claims = runtime.token_service().verify(token)
    except PodgateError as exc:
        if exc.status != 401:
            # A configuration problem (keyring unreadable) must show in the logs; the caller
            # still only learns that it is not authorized.
            log.error("authorizer: cannot verify tokens", extra={"cause": exc.detail})
        else:
            log.info("authorizer: token rejected")
        count("AuthorizerDenied")
        raise Exception("Unauthorized") from None
    except Exception:
        # Whatever a token makes a library do, the answer stays a 401: any other error would
        # be API Gateway's 500 (AuthorizerConfigurationException).
        log.exception("authorizer: unexpected error verifying a token")
        count("AuthorizerDenied")
        raise Exception("Unauthorized") from None
    # methodArn: arn:aws:execute-api:{region}:{account}:{api_id}/{stage}/{method}/{path}
    prefix, _, rest = event["methodArn"].partition("/")
    stage = rest.split("/", 1)[0]
    policy = {
        "principalId": claims["sub"],
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Action": "execute-api:Invoke",
                    "Effect": "Allow",
                    "Resource": [f"{prefix}/{stage}/{resource}" for resource in PROTECTED_RESOURCES],
                }
            ],
        },
        # Flat strings only: API Gateway passes context values on as strings anyway.
        "context": {
            "sub": claims["sub"],
            "role": claims["role"],
            "jti": claims["jti"],
            "exp": str(claims["exp"]),
            "ver": str(claims["ver"]),
        },
    }
    log.info("authorizer: allowed", extra={"user": claims["sub"], "token_id": claims["jti"]})
    return policy
