"""Real daemons on loopback sharing one folder, for the plain-file mirror tests."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.daemons import Device, link, make_share, start_all


@pytest.fixture
def share_of(tmp_path: Path) -> Iterator[Callable[..., list[Device]]]:
    """``share_of("alice", "bob")``: devices holding one share, started and linked."""
    made: list[Device] = []

    def build(*names: str, start: bool = True) -> list[Device]:
        devices = [Device(tmp_path, name) for name in names]
        made.extend(devices)
        make_share(devices)
        if start:
            start_all(devices)
            link(devices)
        return devices

    yield build
    for device in made:
        device.stop(signal.SIGKILL)
