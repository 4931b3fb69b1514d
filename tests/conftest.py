"""Fixtures shared by the test tiers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from podgate_local.runpod_emulator import RunPodEmulator

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
