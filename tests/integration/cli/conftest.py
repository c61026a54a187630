"""Fixtures of the CLI tests that run real daemons."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.sync.daemons import Device, make_share


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Device, Device]]:
    """alice and bob holding one share, members of each other, daemons running (not
    yet linked: a test calls ``link`` when it wants them connected)."""
    alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
    make_share([alice, bob])
    try:
        alice.start()
        bob.start()
        yield alice, bob
    finally:
        alice.stop()
        bob.stop()
