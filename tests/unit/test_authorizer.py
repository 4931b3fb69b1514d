"""The TOKEN authorizer: the whole policy it returns, and Unauthorized for everything else."""

import json

import pytest

from podgate import authorizer, runtime
from podgate.config import TokenSettings
from podgate.services.tokens import TokenService

KEYRING = json.dumps({"kid": "k1", "key": "s" * 64})
METHOD_ARN = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/dev/GET/pods"


@pytest.fixture
def tokens(monkeypatch):
    settings = TokenSettings("jwt", "podgate", "podgate-api", 3600, 86400)
    service = TokenService(settings, lambda fresh: KEYRING)
    monkeypatch.setattr(runtime, "token_service", lambda: service)
    return service


def test_valid_token_gets_allow_on_every_pods_route_with_flat_context(tokens):
    issued = tokens.issue(subject="alice", role="user", version=4)
    claims = tokens.verify(issued.token)
    policy = authorizer.authorize({"type": "TOKEN", "authorizationToken": f"Bearer {issued.token}",
                                   "methodArn": METHOD_ARN})
    base = "arn:aws:execute-api:eu-west-1:123456789012:abcdef1234/dev"
    assert policy == {
        "principalId": "alice",
        "policyDocument": {
            "Version": "2012-10-17",
            "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow",
                 "Resource": [f"{base}/*/pods", f"{base}/*/pods/*"]},
            ],
        },
        "context": {"sub": "alice", "role": "user", "jti": issued.token_id, "exp": str(claims["exp"]),
                    "ver": "4"},
    }


def test_scheme_is_case_insensitive(tokens):
    token = tokens.issue(subject="alice", role="admin", version=0).token
    assert authorizer.authorize({"authorizationToken": f"bEaReR {token}", "methodArn": METHOD_ARN})


@pytest.mark.parametrize(
    "header",
    [None, "", "Bearer", "Bearer ", "Basic YWxhZGRpbjpvcGVuc2VzYW1l", "Token abc.def.ghi", "Bearer  {t}",
     " Bearer {t}", "Bearer {t} extra", "{t}", "Bearer {t}x"],
)
def test_anything_else_is_unauthorized(tokens, header):
    token = tokens.issue(subject="alice", role="user", version=0).token
    event = {"authorizationToken": header.format(t=token) if header else header, "methodArn": METHOD_ARN}
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.authorize(event)


def test_unreadable_keyring_is_still_just_unauthorized(monkeypatch, caplog):
    settings = TokenSettings("jwt", "podgate", "podgate-api", 3600, 86400)
    broken = TokenService(settings, lambda fresh: "not json")
    monkeypatch.setattr(runtime, "token_service", lambda: broken)
    token = TokenService(settings, lambda fresh: KEYRING).issue(subject="a", role="user", version=0).token
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.authorize({"authorizationToken": f"Bearer {token}", "methodArn": METHOD_ARN})
    assert "cannot verify tokens" in caplog.text


def test_an_unexpected_error_while_verifying_is_still_just_unauthorized(monkeypatch):
    class Exploding:
        def verify(self, token):
            raise RecursionError("a library fell over")

    monkeypatch.setattr(runtime, "token_service", lambda: Exploding())
    with pytest.raises(Exception, match=r"^Unauthorized$"):
        authorizer.authorize({"authorizationToken": "Bearer a.b.c", "methodArn": METHOD_ARN})
