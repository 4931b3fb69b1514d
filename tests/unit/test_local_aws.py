"""Local AWS: tables and secrets from template.yaml on a moto server, the secrets-extension
emulator, and the LocalStack that wires them to the functions."""

from __future__ import annotations

import dataclasses
import json
import re
import string
from datetime import datetime

import boto3
import pytest
import requests

from podgate.clients.secrets import SecretsClient
from podgate_local.aws import (
    DUMMY_CREDENTIALS,
    SecretsExtensionEmulator,
    create_resources,
    generate_secret_string,
    start_moto,
)
from podgate_local.stack import LocalStack
from podgate_local.template import load_stack
from tests.helpers import load_event

REGION = "us-east-1"
SESSION_TOKEN = "local-session-token"


@pytest.fixture(scope="module")
def endpoint():
    server, url = start_moto()
    yield url
    server.stop()


@pytest.fixture(scope="module")
def stack():
    # moto keeps its state per process, shared by every server in it: names of its own keep
    # this module apart from the LocalStacks below and from other test modules.
    return load_stack(parameter_overrides={"RunPodApiKeySecretName": "awstest/runpod-api-key"}, stack_name="awstest")


@pytest.fixture(scope="module")
def resources(stack, endpoint):
    return create_resources(stack, endpoint, REGION, runpod_api_key="rk-first")


def aws(service, endpoint):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION, **DUMMY_CREDENTIALS)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def extension(endpoint, resources):
    clock = Clock()
    emulator = SecretsExtensionEmulator(endpoint, REGION, SESSION_TOKEN, ttl_seconds=300, clock=clock).start()
    emulator.clock = clock
    yield emulator
    emulator.stop()


def get_secret(extension, secret_id, token=SESSION_TOKEN, **params):
    headers = {} if token is None else {"X-Aws-Parameters-Secrets-Token": token}
    return requests.get(
        f"{extension.url}/secretsmanager/get",
        params={"secretId": secret_id, **params},
        headers=headers,
        timeout=5,
    )


# --- moto and resources ----------------------------------------------------------------------


def test_moto_listens_on_loopback(endpoint):
    assert re.fullmatch(r"http://127\.0\.0\.1:\d+", endpoint)


def test_tables_are_created_from_the_template(stack, endpoint, resources):
    assert resources.tables == {logical: f"awstest-{logical}" for logical in stack.tables}
    assert {"UsersTable", "PodsTable", "LoginAttemptsTable"} <= set(resources.tables)
    ddb = aws("dynamodb", endpoint)
    users = ddb.describe_table(TableName="awstest-UsersTable")["Table"]
    assert users["KeySchema"] == [{"AttributeName": "username", "KeyType": "HASH"}]
    assert users["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    pods = ddb.describe_table(TableName="awstest-PodsTable")["Table"]
    (gsi,) = pods["GlobalSecondaryIndexes"]
    assert gsi["IndexName"] == "owner-index"
    assert gsi["KeySchema"] == stack.tables["PodsTable"]["GlobalSecondaryIndexes"][0]["KeySchema"]
    assert gsi["Projection"] == {"ProjectionType": "ALL"}
    ttl = ddb.describe_time_to_live(TableName="awstest-LoginAttemptsTable")["TimeToLiveDescription"]
    assert (ttl["AttributeName"], ttl["TimeToLiveStatus"]) == ("expires_at", "ENABLED")


def test_time_to_live_and_provisioned_billing_are_honoured(stack, endpoint):
    table = {
        "TableName": "awstest-Sessions",
        "AttributeDefinitions": [{"AttributeName": "id", "AttributeType": "S"}],
        "KeySchema": [{"AttributeName": "id", "KeyType": "HASH"}],
        "ProvisionedThroughput": {"ReadCapacityUnits": 2, "WriteCapacityUnits": "3"},
        "TimeToLiveSpecification": {"AttributeName": "expires_at", "Enabled": True},
    }
    custom = dataclasses.replace(stack, tables={"SessionsTable": table}, secrets={})
    for _ in range(2):  # idempotent
        create_resources(custom, endpoint, REGION)
    ddb = aws("dynamodb", endpoint)
    ttl = ddb.describe_time_to_live(TableName="awstest-Sessions")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expires_at")
    throughput = ddb.describe_table(TableName="awstest-Sessions")["Table"]["ProvisionedThroughput"]
    assert (throughput["ReadCapacityUnits"], throughput["WriteCapacityUnits"]) == (2, 3)


def test_generated_secret_follows_the_templates_rules(endpoint, resources):
    assert resources.secrets["JwtSigningKeySecret"] == "awstest/jwt-signing-key"
    keyring = json.loads(
        aws("secretsmanager", endpoint).get_secret_value(SecretId="awstest/jwt-signing-key")["SecretString"]
    )
    assert set(keyring) == {"kid", "key"}
    assert keyring["kid"] == "k1"
    assert re.fullmatch(r"[A-Za-z0-9]{64}", keyring["key"])  # ExcludePunctuation, PasswordLength 64


def test_runpod_key_secret_is_named_by_the_template_parameter(endpoint, resources):
    assert resources.secrets["RunPodApiKeySecretName"] == "awstest/runpod-api-key"
    assert (
        aws("secretsmanager", endpoint).get_secret_value(SecretId="awstest/runpod-api-key")["SecretString"]
        == "rk-first"
    )


def test_creating_again_keeps_generated_secrets_and_sets_the_given_key(stack, endpoint, resources):
    sm = aws("secretsmanager", endpoint)
    keyring = sm.get_secret_value(SecretId="awstest/jwt-signing-key")["SecretString"]
    create_resources(stack, endpoint, REGION, runpod_api_key="rk-second")
    assert sm.get_secret_value(SecretId="awstest/jwt-signing-key")["SecretString"] == keyring
    assert sm.get_secret_value(SecretId="awstest/runpod-api-key")["SecretString"] == "rk-second"
    create_resources(stack, endpoint, REGION, runpod_api_key="rk-first")


def test_generate_secret_string_rules():
    plain = generate_secret_string({})
    assert len(plain) == 32
    # RequireEachIncludedType (default true): every class is present.
    for chars in (string.ascii_lowercase, string.ascii_uppercase, string.digits, string.punctuation):
        assert set(plain) & set(chars)
    limited = generate_secret_string(
        {
            "PasswordLength": 200,
            "ExcludeUppercase": True,
            "ExcludeCharacters": "abc",
            "ExcludePunctuation": "true",
        }
    )
    assert len(limited) == 200 and not set(limited) & set(string.ascii_uppercase + "abc" + string.punctuation)
    assert " " in generate_secret_string({"PasswordLength": 300, "IncludeSpace": True})
    assert (
        json.loads(
            generate_secret_string(
                {"SecretStringTemplate": '{"user": "u"}', "GenerateStringKey": "pw", "PasswordLength": 10}
            )
        )["user"]
        == "u"
    )
    with pytest.raises(ValueError):
        generate_secret_string({"GenerateStringKey": "pw"})


# --- the secrets extension -------------------------------------------------------------------


@pytest.mark.parametrize("token", [None, "", "wrong-token"])
def test_extension_requires_the_session_token(extension, token):
    resp = get_secret(extension, "awstest/runpod-api-key", token=token)
    assert resp.status_code == 401
    assert "rk-" not in resp.text


def test_extension_answers_get_secret_value(extension):
    resp = get_secret(extension, "awstest/runpod-api-key")
    assert resp.status_code == 200
    body = resp.json()
    assert body["Name"] == "awstest/runpod-api-key"
    assert body["SecretString"] == "rk-first"
    assert body["ARN"].startswith(f"arn:aws:secretsmanager:{REGION}:")
    assert body["VersionStages"] == ["AWSCURRENT"]
    assert body["VersionId"]
    assert isinstance(body["CreatedDate"], str)
    datetime.fromisoformat(body["CreatedDate"])


def test_extension_caches_until_invalidated_or_expired(endpoint, extension):
    sm = aws("secretsmanager", endpoint)
    sm.create_secret(Name="awstest/cached", SecretString="v1")
    assert get_secret(extension, "awstest/cached").json()["SecretString"] == "v1"
    sm.put_secret_value(SecretId="awstest/cached", SecretString="v2")
    fetches = extension.fetches
    assert get_secret(extension, "awstest/cached").json()["SecretString"] == "v1"  # cached
    assert extension.fetches == fetches
    # An older version is a different request, fetched on its own.
    assert get_secret(extension, "awstest/cached", versionStage="AWSPREVIOUS").json()["SecretString"] == "v1"
    extension.invalidate()
    assert get_secret(extension, "awstest/cached").json()["SecretString"] == "v2"
    sm.put_secret_value(SecretId="awstest/cached", SecretString="v3")
    extension.clock.now += 299
    assert get_secret(extension, "awstest/cached").json()["SecretString"] == "v2"
    extension.clock.now += 1  # the TTL is over
    assert get_secret(extension, "awstest/cached").json()["SecretString"] == "v3"


def test_extension_with_ttl_zero_never_caches(endpoint, resources):
    sm = aws("secretsmanager", endpoint)
    sm.create_secret(Name="awstest/uncached", SecretString="a")
    with SecretsExtensionEmulator(endpoint, REGION, SESSION_TOKEN, ttl_seconds=0) as emulator:
        assert get_secret(emulator, "awstest/uncached").json()["SecretString"] == "a"
        sm.put_secret_value(SecretId="awstest/uncached", SecretString="b")
        assert get_secret(emulator, "awstest/uncached").json()["SecretString"] == "b"


def test_extension_passes_aws_errors_through_uncached(endpoint, extension):
    missing = get_secret(extension, "awstest/not-yet")
    assert missing.status_code == 400
    assert "ResourceNotFoundException" in missing.text
    aws("secretsmanager", endpoint).create_secret(Name="awstest/not-yet", SecretString="now")
    assert get_secret(extension, "awstest/not-yet").json()["SecretString"] == "now"
    no_id = requests.get(
        f"{extension.url}/secretsmanager/get",
        headers={"X-Aws-Parameters-Secrets-Token": SESSION_TOKEN},
        timeout=5,
    )
    assert no_id.status_code == 400


def test_podgate_secrets_client_reads_through_the_emulator(extension, monkeypatch):
    # The layer's client is the only consumer; this pins the contract between the two.
    monkeypatch.setenv("AWS_SESSION_TOKEN", SESSION_TOKEN)
    assert SecretsClient(port=extension.port).get("awstest/runpod-api-key") == "rk-first"


# --- the whole local stack -------------------------------------------------------------------


def test_local_stack_seeds_the_admin_and_wires_the_functions():
    with LocalStack(
        port=None, stack_name="lstest-a", environ={"PODGATE_ADMIN_PASSWORD": "a-long-local-password"}
    ) as local:
        assert local.runpod is not None
        assert local.env["RUNPOD_API_URL"] == local.runpod.url
        assert local.env["AWS_ENDPOINT_URL"] == local.aws_endpoint
        assert local.env["PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"] == str(local.extension.port)
        assert (local.admin_username, local.admin_password) == ("admin", "a-long-local-password")
        assert not local.admin_password_generated
        user = aws("dynamodb", local.aws_endpoint).get_item(
            TableName=local.tables["UsersTable"], Key={"username": {"S": "admin"}}
        )["Item"]
        assert user["role"] == {"S": "admin"}
        # The function reaches moto, the extension and the RunPod emulator through local.env only.
        event = load_event("auth.json")
        event["body"] = json.dumps({"username": "admin", "password": "a-long-local-password"})
        inv = local.invoke("AuthFunction", event)
        assert inv.error is None and inv.payload["statusCode"] == 200, inv.payload
        assert json.loads(inv.payload["body"])["token_type"] == "bearer"
        assert any(line.startswith("[AuthFunction] REPORT RequestId: ") for line in local.logs)


def test_local_stack_uses_a_real_runpod_account_when_only_the_key_is_set():
    with LocalStack(port=None, stack_name="lstest-b", environ={"RUNPOD_API_KEY": "rk-real"}) as local:
        assert local.runpod is None
        assert "RUNPOD_API_URL" not in local.env  # the template's RunPodApiUrl stays in force
        secret = aws("secretsmanager", local.aws_endpoint).get_secret_value(
            SecretId=local.secrets["RunPodApiKeySecretName"]
        )
        assert secret["SecretString"] == "rk-real"
        assert local.admin_password_generated and len(local.admin_password) >= 20
