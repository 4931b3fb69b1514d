"""Fixtures shared by the test tiers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from moto import mock_aws

from podgate.repositories.dynamo import dynamodb_client
from podgate_local.runpod_emulator import RunPodEmulator
from podgate_local.template import load_stack

# The local stack (session-scoped, started only when a test asks for it) and its clients.
pytest_plugins = ["tests.localstack"]


@pytest.fixture
def runpod_emulator() -> Iterator[RunPodEmulator]:
    """A fresh RunPod REST v2 emulator on a free local port; its key is "test-runpod-key"."""
    with RunPodEmulator(api_key="test-runpod-key") as emulator:
        yield emulator


def pytest_collection_modifyitems(config, items):
    # The secret audit inspects everything the other tests sent and received: it runs last.
    items.sort(key=lambda item: item.get_closest_marker("audit_last") is not None)


@pytest.fixture
def dynamodb_tables(monkeypatch) -> Iterator[dict[str, str]]:
    """Every table template.yaml defines, in moto's in-process mock: {logical id: name}.
    Key schemas come from the template itself, so the tests cannot drift from it."""
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    dynamodb_client.cache_clear()  # the repositories' client must be created inside the mock
    keep = ("TableName", "AttributeDefinitions", "KeySchema", "GlobalSecondaryIndexes", "BillingMode")
    with mock_aws():
        names = {}
        for logical, props in load_stack().tables.items():
            dynamodb_client().create_table(**{k: v for k, v in props.items() if k in keep})
            names[logical] = props["TableName"]
        yield names
    dynamodb_client.cache_clear()
