"""No secret ever leaves: after every other test has run against the local stack, none of the
secret values it handled appears in any function log line or any response."""

from __future__ import annotations

import json

import pytest

from tests.localstack import ISSUED_TOKENS, RESPONSES, SUBMITTED_SECRETS, aws_client

ENV_SECRET = "env-value-that-must-never-leak-7f3a"


def test_pod_env_values_are_accepted_but_never_returned(admin):
    pod_id = admin.create_pod(env={"HF_TOKEN": ENV_SECRET})
    SUBMITTED_SECRETS.add(ENV_SECRET)
    assert ENV_SECRET not in admin.request("GET", f"/pods/{pod_id}").text
    assert ENV_SECRET not in admin.request("GET", "/pods").text
    admin.request("DELETE", f"/pods/{pod_id}")


@pytest.mark.audit_last
def test_no_secret_in_any_log_line_or_response(stack):
    sm = aws_client(stack, "secretsmanager")
    runpod_key = sm.get_secret_value(SecretId=stack.stack.parameters["RunPodApiKeySecretName"])["SecretString"]
    ring = json.loads(sm.get_secret_value(SecretId=stack.secrets["JwtSigningKeySecret"])["SecretString"])
    signing_keys = [k["key"] for k in ring.get("keys", [ring])]
    always_secret = {"RunPod API key": runpod_key, **{f"signing key {i}": k for i, k in enumerate(signing_keys)},
                     **{f"submitted secret {i}": v for i, v in enumerate(sorted(SUBMITTED_SECRETS))}}
    logs = "\n".join(stack.logs)
    # The capture itself works: logs exist, and the tokens /auth issued are in its responses.
    assert logs, "the functions logged nothing: the audit would prove nothing"
    assert ISSUED_TOKENS and all(any(t in r[4] for r in RESPONSES) for t in ISSUED_TOKENS)
    leaks = [name for name, value in always_secret.items() if value and value in logs]
    leaks += [f"token ...{t[-8:]} in logs" for t in ISSUED_TOKENS if t in logs or t.split(".")[2] in logs]
    for method, url, status, headers, body in RESPONSES:
        blob = body + json.dumps(headers)
        leaks += [f"{name} in {method} {url} ({status})" for name, value in always_secret.items()
                  if value and value in blob]
    print(f"\nsecret audit: {len(always_secret)} secret values and {len(ISSUED_TOKENS)} tokens checked "
          f"against {len(stack.logs)} log lines and {len(RESPONSES)} responses: {len(leaks)} found")
    assert leaks == []
