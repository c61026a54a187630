"""Fixtures for every test directory (a plugin: ``pytest_plugins`` in tests/conftest.py)."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.daemons import Device, link, make_share, start_all


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[list[Device]]:
    """alice and bob, two devices with a home each, nothing shared and no daemon
    running yet; whatever daemon a test starts is killed (SIGKILL) at the end."""
    made = [Device(tmp_path, name) for name in ("alice", "bob")]
    yield made
    for device in made:
        device.stop(signal.SIGKILL)


@pytest.fixture
def linked_pair(pair: list[Device]) -> tuple[Device, Device]:
    """alice and bob holding one share, members of each other, daemons running and
    linked."""
    make_share(pair)
    start_all(pair)
    link(pair)
    return pair[0], pair[1]
