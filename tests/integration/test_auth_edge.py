"""/auth throttling and CORS on Lambda answers, through the local gateway."""

from __future__ import annotations

import requests

from tests.localstack import add_user


def _auth(stack, username: str, password: str) -> requests.Response:
    return requests.post(f"{stack.url}/auth", json={"username": username, "password": password}, timeout=30)


def test_five_failures_lock_the_username_even_for_the_right_password(stack):
    name, password = add_user(stack)
    for _ in range(5):
        assert _auth(stack, name, "wrong-password-123").status_code == 401
    resp = _auth(stack, name, password)
    assert resp.status_code == 429
    assert resp.json() == {"detail": "Too many failed logins; try again later"}
    assert 800 < int(resp.headers["Retry-After"]) <= 900


def test_unknown_usernames_are_throttled_alike(stack):
    for _ in range(5):
        assert _auth(stack, "nobody-at-all", "wrong-password-123").status_code == 401
    assert _auth(stack, "nobody-at-all", "wrong-password-123").status_code == 429


def test_a_success_resets_the_failure_count(stack):
    name, password = add_user(stack)
    for _ in range(4):
        _auth(stack, name, "wrong-password-123")
    assert _auth(stack, name, password).status_code == 200
    for _ in range(4):
        assert _auth(stack, name, "wrong-password-123").status_code == 401
    assert _auth(stack, name, password).status_code == 200


def test_lambda_answers_carry_cors_headers(stack, admin):
    origin = {"Origin": "https://console.example.com"}
    assert requests.get(f"{stack.url}/health", headers=origin, timeout=30).headers[
        "Access-Control-Allow-Origin"] == "*"
    ok = admin.request("GET", "/pods", headers=origin)
    assert ok.headers["Access-Control-Allow-Origin"] == "*"
    missing = admin.request("GET", "/pods/nosuchpod0000", headers=origin)
    assert missing.status_code == 404 and missing.headers["Access-Control-Allow-Origin"] == "*"
