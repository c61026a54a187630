"""Fixtures for every test directory (a plugin: ``pytest_plugins`` in tests/conftest.py)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemons import Device


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[list[Device]]:
    """alice and bob, two devices with a home each, nothing shared and no daemon
    running yet; whatever daemon a test starts is killed (SIGKILL) at the end."""
    made = [Device(tmp_path, name) for name in ("alice", "bob")]
    yield made
    for device in made:
        device.stop(signal.SIGKILL)
