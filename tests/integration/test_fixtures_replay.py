"""events/ replayed through the local stack's workers: the Docker-free `sam local invoke`."""

from __future__ import annotations

import json

import pytest

from tests.helpers import load_event

CASES = [
    ("HealthFunction", "health.json", 200),
    ("HealthFunction", "health_deep.json", 200),
    ("OpenApiFunction", "openapi.json", 200),
    ("AuthFunction", "auth_wrong_password.json", 401),
    ("AuthFunction", "auth_malformed_body.json", 400),
    ("AuthFunction", "auth_missing_field.json", 422),
    ("ListPodsFunction", "list_pods.json", 200),
    ("ListPodsFunction", "list_pods_expired_token.json", 401),
    ("ListPodsFunction", "get_pod_unknown.json", 404),
    ("CreatePodFunction", "create_pod.json", 200),
    ("CreatePodFunction", "create_pod_unknown_gpu.json", 422),
    ("CreatePodFunction", "create_pod_missing_field.json", 422),
    ("CreatePodFunction", "create_pod_unknown_field.json", 422),
    ("CreatePodFunction", "create_pod_malformed_body.json", 400),
    ("StopPodFunction", "stop_pod_unknown.json", 404),
    ("StopPodFunction", "stop_pod_by_id_unknown.json", 404),
    ("DeletePodFunction", "delete_pod_unknown.json", 404),
    ("DeletePodFunction", "delete_pod_by_id_unknown.json", 404),
]


@pytest.mark.parametrize("function,fixture,status", CASES)
def test_fixture_through_worker(stack, function, fixture, status):
    result = stack.invoke(function, load_event(fixture))
    assert result.error is None, result.error
    assert result.payload["statusCode"] == status, result.payload
    body = json.loads(result.payload["body"])
    assert "detail" in body or status == 200
    if function == "OpenApiFunction":
        assert body["openapi"].startswith("3.1")


def test_reconcile_fixture(stack):
    result = stack.invoke("ReconcileFunction", load_event("reconcile.json"))
    assert result.error is None and {"adopted", "stale_records_removed", "untracked_pods"} <= set(result.payload)


@pytest.mark.parametrize("fixture", ["authorizer_garbage_token.json", "authorizer_basic_scheme.json",
                                     "authorizer_alg_none.json"])
def test_authorizer_fixtures_fail_with_unauthorized(stack, fixture):
    result = stack.invoke("AuthorizerFunction", load_event(fixture))
    assert result.error and result.payload["errorMessage"] == "Unauthorized"
