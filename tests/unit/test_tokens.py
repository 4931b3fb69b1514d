"""Token service: what it issues, and every way a token must fail verification (RFC 8725)."""

import base64
import json
import time

import jwt
import pytest

from podgate.config import TokenSettings
from podgate.errors import ConfigurationError, Unauthorized
from podgate.services.tokens import Keyring, TokenService

KEY1 = "k" * 64
KEY2 = "z" * 64
SETTINGS = TokenSettings(
    secret_id="jwt", issuer="podgate", audience="podgate-api", lifetime_seconds=3600, rotation_grace_seconds=7200
)


class Clock:
    """Starts at the real time: PyJWT checks exp/nbf/iat against the real clock too."""

    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def make_service(keyring: dict, clock: Clock | None = None, fetches: list | None = None) -> TokenService:
    text = json.dumps(keyring)

    def source(fresh: bool) -> str:
        if fetches is not None:
            fetches.append(fresh)
        return text

    clock = clock or Clock()
    return TokenService(SETTINGS, source, clock=clock, monotonic=clock)


def forge(claims: dict, key: str = KEY1, headers: dict | None = None, alg: str = "HS256") -> str:
    return jwt.encode(claims, key, algorithm=alg, headers={"kid": "k1", **(headers or {})})


def good_claims(clock: Clock, **over) -> dict:
    now = int(clock.now)
    claims = {"sub": "alice", "role": "user", "ver": 0, "iss": "podgate", "aud": "podgate-api",
              "iat": now, "nbf": now, "exp": now + 3600, "jti": "abc"}
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def b64(obj: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).rstrip(b"=").decode()


def test_issued_token_round_trips_with_all_required_claims():
    # Given a service with CloudFormation's initial keyring form
    clock = Clock()
    svc = make_service({"kid": "k1", "key": KEY1}, clock)
    # When a token is issued and verified
    issued = svc.issue(subject="alice", role="user", version=3)
    claims = svc.verify(issued.token)
    # Then it carries every claim API.md lists, the kid, and the configured lifetime
    assert issued.expires_in == 3600
    assert jwt.get_unverified_header(issued.token) == {"alg": "HS256", "kid": "k1", "typ": "JWT"}
    assert claims["sub"] == "alice" and claims["role"] == "user" and claims["ver"] == 3
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert claims["iss"] == "podgate" and claims["aud"] == "podgate-api" and claims["jti"] == issued.token_id


@pytest.mark.parametrize(
    "case",
    [
        "alg_none", "alg_hs512", "wrong_key", "tampered_payload", "expired", "not_yet_valid", "iat_future",
        "wrong_issuer", "wrong_audience", "missing_sub", "missing_exp", "missing_jti", "missing_ver",
        "sub_not_string", "bad_role", "exp_string", "jwk_header", "jku_header", "x5u_header", "unknown_kid",
        "no_kid", "oversized", "truncated", "extra_segment", "empty", "garbage",
    ],
)
def test_bad_tokens_are_unauthorized(case):
    clock = Clock()
    svc = make_service({"kid": "k1", "key": KEY1}, clock)
    now = int(clock.now)
    good = forge(good_claims(clock))
    tokens = {
        "alg_none": b64({"alg": "none", "kid": "k1"}) + "." + b64(good_claims(clock)) + ".",
        "alg_hs512": forge(good_claims(clock), alg="HS512"),
        "wrong_key": forge(good_claims(clock), key="x" * 64),
        "tampered_payload": ".".join([good.split(".")[0], b64(good_claims(clock, role="admin")), good.split(".")[2]]),
        "expired": forge(good_claims(clock, iat=now - 7200, nbf=now - 7200, exp=now - 60)),
        "not_yet_valid": forge(good_claims(clock, nbf=now + 600)),
        "iat_future": forge(good_claims(clock, iat=now + 600)),
        "wrong_issuer": forge(good_claims(clock, iss="someone-else")),
        "wrong_audience": forge(good_claims(clock, aud="other-api")),
        "missing_sub": forge({k: v for k, v in good_claims(clock).items() if k != "sub"}),
        "missing_exp": forge({k: v for k, v in good_claims(clock).items() if k != "exp"}),
        "missing_jti": forge({k: v for k, v in good_claims(clock).items() if k != "jti"}),
        "missing_ver": forge({k: v for k, v in good_claims(clock).items() if k != "ver"}),
        "sub_not_string": b64({"alg": "HS256", "kid": "k1"}),  # replaced below (PyJWT refuses to encode it)
        "bad_role": forge(good_claims(clock, role="root")),
        "exp_string": forge(good_claims(clock, exp=str(now + 3600))),
        "jwk_header": forge(good_claims(clock), headers={"jwk": {"kty": "oct", "k": "eA"}}),
        "jku_header": forge(good_claims(clock), headers={"jku": "https://attacker.example/keys"}),
        "x5u_header": forge(good_claims(clock), headers={"x5u": "https://attacker.example/cert"}),
        "unknown_kid": forge(good_claims(clock), headers={"kid": "k9"}),
        "no_kid": jwt.encode(good_claims(clock), KEY1, algorithm="HS256"),
        "oversized": forge(good_claims(clock, pad="x" * 5000)),
        "truncated": good[:-5],
        "extra_segment": good + ".extra",
        "empty": "",
        "garbage": "not-a-token",
    }
    token = tokens[case]
    if case == "sub_not_string":
        import hashlib
        import hmac

        signing_input = b64({"alg": "HS256", "kid": "k1", "typ": "JWT"}) + "." + b64(good_claims(clock, sub=42))
        sig = hmac.new(KEY1.encode(), signing_input.encode(), hashlib.sha256).digest()
        token = signing_input + "." + base64.urlsafe_b64encode(sig).rstrip(b"=").decode()
    with pytest.raises(Unauthorized):
        svc.verify(token)


def test_clock_skew_leeway_is_small():
    clock = Clock()
    svc = make_service({"kid": "k1", "key": KEY1}, clock)
    now = int(clock.now)
    # 3 s early is tolerated (skewed clocks), 60 s is not
    svc.verify(forge(good_claims(clock, nbf=now + 3, iat=now + 3)))
    with pytest.raises(Unauthorized):
        svc.verify(forge(good_claims(clock, nbf=now + 60)))


def rotated(successor_active_for: float, clock: Clock) -> dict:
    return {"keys": [{"kid": "k1", "key": KEY1, "active_from": 0},
                     {"kid": "k2", "key": KEY2, "active_from": clock.now - successor_active_for}]}


def test_rotation_previous_key_verifies_during_grace():
    # Given k2 took over a minute ago and k1 is the previous key
    clock = Clock()
    svc = make_service(rotated(60, clock), clock)
    # Then new tokens are signed with k2, and a k1 token still verifies (grace is 7200 s)
    assert jwt.get_unverified_header(svc.issue(subject="a", role="user", version=0).token)["kid"] == "k2"
    assert svc.verify(forge(good_claims(clock)))["sub"] == "alice"


def test_rotation_previous_key_retires_after_grace():
    # Given k2 has been active for longer than the grace period
    clock = Clock()
    svc = make_service(rotated(7201, clock), clock)
    # Then a token signed with k1 no longer verifies
    with pytest.raises(Unauthorized):
        svc.verify(forge(good_claims(clock)))


def test_future_key_verifies_before_it_signs():
    # A rotation publishes k2 ahead of use, so verifiers learn it before any token carries it
    clock = Clock()
    ring = {"keys": [{"kid": "k1", "key": KEY1, "active_from": 0},
                     {"kid": "k2", "key": KEY2, "active_from": clock.now + 600}]}
    svc = make_service(ring, clock)
    assert jwt.get_unverified_header(svc.issue(subject="a", role="user", version=0).token)["kid"] == "k1"
    claims = good_claims(clock)
    assert svc.verify(jwt.encode(claims, KEY2, algorithm="HS256", headers={"kid": "k2"}))["sub"] == "alice"


def test_unknown_kid_refreshes_keyring_at_most_once_per_interval():
    clock = Clock()
    fetches: list = []
    svc = make_service({"kid": "k1", "key": KEY1}, clock, fetches)
    bogus = forge(good_claims(clock), headers={"kid": "nope"})
    for _ in range(5):
        with pytest.raises(Unauthorized):
            svc.verify(bogus)
    assert fetches.count(True) == 1
    clock.now += 31
    with pytest.raises(Unauthorized):
        svc.verify(bogus)
    assert fetches.count(True) == 2


@pytest.mark.parametrize("text", ["", "{}", '{"kid": "k1"}', '{"kid": "k1", "key": "short"}', "[1]", '{"keys": []}'])
def test_malformed_keyring_is_a_configuration_error(text):
    with pytest.raises(ConfigurationError):
        Keyring.parse(text)
