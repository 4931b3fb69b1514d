"""The admin command's input checks (QA defect 13) and key rotation on moto."""

import json

import pytest
from moto import mock_aws

from podgate import admin
from podgate.services.tokens import Keyring


def test_add_user_refuses_names_auth_would_never_accept(monkeypatch):
    for bad in ("a" * 200, "bad name", ".dot-first", "tab\tname", ""):
        with pytest.raises(SystemExit) as exit_:
            admin.main(["--users-table", "unused", "add-user", bad, "--generate-password"])
        assert "usernames are 1-128 characters" in str(exit_.value.code)


def test_password_prompt_without_a_terminal_is_a_clear_error(monkeypatch):
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    with pytest.raises(SystemExit) as exit_:
        admin.main(["--users-table", "unused", "add-user", "alice"])
    assert "use --password-stdin or --generate-password" in str(exit_.value.code)


def test_rotation_adds_a_delayed_key_and_prunes_retired_ones(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        import boto3

        sm = boto3.client("secretsmanager")
        sm.create_secret(Name="ring", SecretString=json.dumps({"kid": "k1", "key": "a" * 64}))
        kid2 = admin.rotate_signing_key("ring", activate_in=600, grace_seconds=3600, now=1_000_000)
        ring = Keyring.parse(sm.get_secret_value(SecretId="ring")["SecretString"])
        assert [k.kid for k in ring.keys] == ["k1", kid2]
        assert ring.signing_key(1_000_000).kid == "k1" and ring.signing_key(1_000_601).kid == kid2
        # a rotation long after the grace period drops k1, which no longer verifies anything
        kid3 = admin.rotate_signing_key("ring", activate_in=600, grace_seconds=3600, now=1_000_000 + 7200)
        ring = Keyring.parse(sm.get_secret_value(SecretId="ring")["SecretString"])
        assert [k.kid for k in ring.keys] == [kid2, kid3]
