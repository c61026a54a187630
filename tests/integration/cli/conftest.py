"""Fixtures of the CLI tests that run real daemons."""

from __future__ import annotations

import pytest

from tests.support.daemons import Device, make_share, start_all


@pytest.fixture
def pair(pair: list[Device]) -> tuple[Device, Device]:
    """alice and bob holding one share, members of each other, daemons running (not
    yet linked: a test calls ``link`` when it wants them connected)."""
    make_share(pair)
    start_all(pair)
    return pair[0], pair[1]
