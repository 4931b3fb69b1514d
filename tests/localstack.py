"""One local stack (moto, RunPod emulator, secrets extension, gateway) shared by the
integration and security tiers, reached over HTTP exactly as a client reaches `make dev`.

Every response the tests receive is recorded, and so is every log line the functions write,
so that the secret audit (tests/security/test_secret_audit.py, run last) can prove no secret
ever left the API.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import boto3
import jwt
import pytest
import requests

from podgate.admin import ensure_user
from podgate_local.stack import LocalStack

ADMIN_PASSWORD = "integration-admin-password"


# Responses seen by any test: (method, url, status, headers, body text).
RESPONSES: list[tuple[str, str, int, dict[str, str], str]] = []
# Secret values handed to the API during the run (passwords, pod env values).
SUBMITTED_SECRETS: set[str] = {ADMIN_PASSWORD}
# Tokens the API issued; they may appear in /auth responses, never in logs.
ISSUED_TOKENS: set[str] = set()


@pytest.fixture(scope="session")
def stack() -> Iterator[LocalStack]:
    original_send = requests.Session.send

    def recording_send(self, request, **kwargs):
        resp = original_send(self, request, **kwargs)
        RESPONSES.append((request.method, request.url, resp.status_code, dict(resp.headers), resp.text))
        return resp

    requests.Session.send = recording_send  # type: ignore[method-assign]
    try:
        with LocalStack(port=0, environ={}, admin_password=ADMIN_PASSWORD, stack_name="podgate-it") as s:
            yield s
    finally:
        requests.Session.send = original_send  # type: ignore[method-assign]


@dataclass
class Client:
    """A logged-in API user: requests with its bearer token."""

    base: str
    token: str
    username: str

    def request(self, method: str, path: str, **kwargs) -> requests.Response:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return requests.request(method, self.base + path, headers=headers, timeout=30, **kwargs)

    def create_pod(self, **body) -> str:
        resp = self.request("POST", "/pods", json={"name": "p", "image": "my-image", "gpu_type": "nvidia-t4", **body})
        assert resp.status_code == 200, resp.text
        return resp.json()["pod_id"]


def login(stack: LocalStack, username: str, password: str) -> str:
    resp = requests.post(f"{stack.url}/auth", json={"username": username, "password": password}, timeout=30)
    assert resp.status_code == 200, resp.text
    ISSUED_TOKENS.add(resp.json()["access_token"])
    return resp.json()["access_token"]


def aws_client(stack: LocalStack, service: str):
    return boto3.client(service, endpoint_url=stack.aws_endpoint, region_name=stack.region,
                        aws_access_key_id="testing", aws_secret_access_key="testing")


def add_user(stack: LocalStack, role: str = "user", password: str = "a-long-user-password") -> tuple[str, str]:
    """A new user in the stack's users table (as the admin command does); (username, password)."""
    username = f"{role}-{uuid.uuid4().hex[:8]}"
    SUBMITTED_SECRETS.add(password)
    with stack.aws_environment():
        assert ensure_user(stack.tables["UsersTable"], username, password, role)
    return username, password


def signing_key(stack: LocalStack) -> tuple[str, str]:
    """(kid, key) of the stack's current signing key, read from its Secrets Manager."""
    ring = json.loads(aws_client(stack, "secretsmanager").get_secret_value(
        SecretId=stack.secrets["JwtSigningKeySecret"])["SecretString"])
    if "keys" in ring:
        ring = ring["keys"][-1]
    return ring["kid"], ring["key"]


def mint(stack: LocalStack, **overrides) -> str:
    """A token signed with the stack's real key; claims overridable (None removes one)."""
    kid, key = signing_key(stack)
    now = int(time.time())
    claims = {"sub": "admin", "role": "admin", "ver": 0, "iss": "podgate", "aud": "podgate-api",
              "iat": now, "nbf": now, "exp": now + 600, "jti": uuid.uuid4().hex}
    claims.update(overrides)
    return jwt.encode({k: v for k, v in claims.items() if v is not None}, key, algorithm="HS256",
                      headers={"kid": kid})


@pytest.fixture(scope="session")
def admin(stack) -> Client:
    return Client(stack.url, login(stack, "admin", ADMIN_PASSWORD), "admin")


@pytest.fixture
def user(stack) -> Client:
    name, password = add_user(stack)
    return Client(stack.url, login(stack, name, password), name)


@pytest.fixture
def other_user(stack) -> Client:
    name, password = add_user(stack)
    return Client(stack.url, login(stack, name, password), name)
