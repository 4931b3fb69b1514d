"""Fixtures shared by the test tiers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from podgate_local.runpod_emulator import RunPodEmulator


@pytest.fixture
def runpod_emulator() -> Iterator[RunPodEmulator]:
    """A fresh RunPod REST v2 emulator on a free local port; its key is "test-runpod-key"."""
    with RunPodEmulator(api_key="test-runpod-key") as emulator:
        yield emulator
