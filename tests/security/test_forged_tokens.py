"""RFC 8725 through the local gateway: forged and malformed tokens never get in.

Every case goes to a protected route as a real client would send it; the only acceptable
answer is 401 {"detail": "Unauthorized"} (never a 403 Deny, never a 500)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid

import pytest
import requests

from tests.localstack import add_user, login, mint, signing_key

TRIED: list[str] = []
ACCEPTED: list[str] = []


def _b64(data: bytes | dict) -> str:
    raw = json.dumps(data).encode() if isinstance(data, dict) else data
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _sign(header: dict, claims: dict, key: str, digest=hashlib.sha256) -> str:
    signing_input = f"{_b64(header)}.{_b64(claims)}"
    sig = hmac.new(key.encode(), signing_input.encode(), digest).digest()
    return f"{signing_input}.{_b64(sig)}"


def _claims(**over) -> dict:
    now = int(time.time())
    claims = {"sub": "admin", "role": "admin", "ver": 0, "iss": "podgate", "aud": "podgate-api",
              "iat": now, "nbf": now, "exp": now + 600, "jti": uuid.uuid4().hex}
    claims.update(over)
    return {k: v for k, v in claims.items() if v is not None}


def forged_headers(stack) -> dict[str, dict[str, str]]:
    """Authorization (or other) headers for each case, keyed by a readable name."""
    kid, key = signing_key(stack)
    hs = {"alg": "HS256", "typ": "JWT", "kid": kid}
    now = int(time.time())
    valid = mint(stack)
    h, p, s = valid.split(".")
    user, password = add_user(stack)
    user_token = login(stack, user, password)
    bearer = {
        "alg none, no signature": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(_claims())}.",
        "alg none, with signature": f"{_b64({'alg': 'none', 'kid': kid})}.{_b64(_claims())}.{s}",
        "alg NONE uppercase": f"{_b64({'alg': 'NONE', 'kid': kid})}.{_b64(_claims())}.",
        "alg HS384": _sign({**hs, "alg": "HS384"}, _claims(), key, hashlib.sha384),
        "alg HS512": _sign({**hs, "alg": "HS512"}, _claims(), key, hashlib.sha512),
        "alg RS256 signed with the HMAC key (confusion)": _sign({**hs, "alg": "RS256"}, _claims(), key),
        "alg ES256 header": _sign({**hs, "alg": "ES256"}, _claims(), key),
        "wrong key": _sign(hs, _claims(), "not-the-key-" * 6),
        "empty key": _sign(hs, _claims(), ""),
        "tampered payload (user becomes admin)": f"{h}.{_b64(_claims(sub=user, role='admin'))}.{s}",
        "tampered header kid": f"{_b64({**hs, 'kid': 'other'})}.{p}.{s}",
        "expired": _sign(hs, _claims(iat=now - 7200, nbf=now - 7200, exp=now - 3600), key),
        "expired beyond leeway (30 s)": _sign(hs, _claims(iat=now - 630, nbf=now - 630, exp=now - 30), key),
        "not yet valid (nbf +10 min)": _sign(hs, _claims(nbf=now + 600), key),
        "issued in the future": _sign(hs, _claims(iat=now + 600), key),
        "wrong issuer": _sign(hs, _claims(iss="evil"), key),
        "wrong audience": _sign(hs, _claims(aud="other-api"), key),
        "audience list without ours": _sign(hs, _claims(aud=["a", "b"]), key),
        **{f"missing {c}": _sign(hs, _claims(**{c: None}), key)
           for c in ("sub", "exp", "iat", "nbf", "iss", "aud", "jti", "role", "ver")},
        "sub is a number": _sign(hs, _claims(sub=42), key),
        "sub is empty": _sign(hs, _claims(sub=""), key),
        "role root": _sign(hs, _claims(role="root"), key),
        "exp is a string": _sign(hs, _claims(exp=str(now + 600)), key),
        "ver is a string": _sign(hs, _claims(ver="0"), key),
        "unknown user": _sign(hs, _claims(sub="ghost"), key),
        "stale token version": _sign(hs, _claims(sub=user, role="user", ver=7), key),
        "user token claiming admin": _sign(hs, _claims(sub=user, role="admin"), key),
        "jwk header": _sign({**hs, "jwk": {"kty": "oct", "k": _b64(b"attacker")}}, _claims(), "attacker"),
        "jku header": _sign({**hs, "jku": "https://attacker.example/jwks"}, _claims(), key),
        "x5u header": _sign({**hs, "x5u": "https://attacker.example/cert"}, _claims(), key),
        "x5c header": _sign({**hs, "x5c": ["MIIB"]}, _claims(), key),
        "crit header": _sign({**hs, "crit": ["exp"]}, _claims(), key),
        "typ at+jwt": _sign({**hs, "typ": "at+jwt"}, _claims(), key),
        "unknown kid": _sign({**hs, "kid": "k999"}, _claims(), key),
        "no kid": _sign({"alg": "HS256", "typ": "JWT"}, _claims(), key),
        "kid path traversal": _sign({**hs, "kid": "../../../../dev/null"}, _claims(), ""),
        "kid is a number": _sign({**hs, "kid": 1}, _claims(), key),
        "oversized": _sign(hs, _claims(pad="x" * 6000), key),
        "truncated signature": valid[:-6],
        "signature removed": f"{h}.{p}.",
        "two segments": f"{h}.{p}",
        "extra segment": f"{valid}.{s}",
        "garbage": "not-a-token",
        "header is not JSON": f"{_b64(b'{oops')}.{p}.{s}",
    }
    cases = {name: {"Authorization": f"Bearer {token}"} for name, token in bearer.items()}
    cases.update({
        "lowercase scheme, forged token": {"Authorization": "bearer " + _sign(hs, _claims(), "x" * 40)},
        "scheme padded with two spaces": {"Authorization": f"Bearer  {valid}"},
        "tab instead of space": {"Authorization": f"Bearer\t{valid}"},
        "trailing junk": {"Authorization": f"Bearer {valid} junk"},
        "scheme Token": {"Authorization": f"Token {valid}"},
        "scheme JWT": {"Authorization": f"JWT {valid}"},
        "scheme Basic": {"Authorization": "Basic " + base64.b64encode(b"admin:password").decode()},
        "no scheme": {"Authorization": valid},
        "empty header": {"Authorization": ""},
        "bearer without token": {"Authorization": "Bearer"},
        "token in X-Authorization": {"X-Authorization": f"Bearer {valid}"},
        "token in a cookie": {"Cookie": f"access_token={valid}"},
        "valid signature, disabled user": {"Authorization": f"Bearer {user_token}"},
    })
    from podgate.admin import main
    with stack.aws_environment():
        main(["--users-table", stack.tables["UsersTable"], "disable", user])
    return cases


ROUTES = [("GET", "/pods"), ("POST", "/pods"), ("GET", "/pods/abc123"), ("POST", "/pods/stop"),
          ("DELETE", "/pods/abc123")]


def test_no_forged_token_gets_in(stack):
    cases = forged_headers(stack)
    assert len(cases) >= 40
    for name, headers in cases.items():
        for method, path in ROUTES:
            TRIED.append(name)
            resp = requests.request(method, stack.url + path, headers=headers, json={"pod_id": "abc123"},
                                    timeout=30)
            if resp.status_code != 401 or resp.json() != {"detail": "Unauthorized"}:
                ACCEPTED.append(f"{name} {method} {path}: {resp.status_code} {resp.text[:100]}")
    print(f"\nforged tokens: {len(cases)} cases x {len(ROUTES)} routes = {len(TRIED)} requests, "
          f"{len(ACCEPTED)} not answered 401")
    assert ACCEPTED == []


def test_token_in_query_string_is_ignored(stack):
    valid = mint(stack)
    for param in ("token", "access_token", "jwt", "Authorization"):
        resp = requests.get(f"{stack.url}/pods", params={param: valid}, timeout=30)
        assert (resp.status_code, resp.json()) == (401, {"detail": "Unauthorized"})


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_scheme_is_case_insensitive_for_a_genuine_token(stack, scheme):
    assert requests.get(f"{stack.url}/pods", headers={"Authorization": f"{scheme} {mint(stack)}"},
                        timeout=30).status_code == 200
