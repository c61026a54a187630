"""Real daemons on loopback sharing one folder, for the plain-file mirror tests."""

from __future__ import annotations

import os
import signal
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from p2psync.mirror.manifest import MANIFEST_GUID, read_entries
from p2psync.storage import read_updates
from p2psync.storage.compaction import replay
from p2psync.storage.layout import log_path
from tests.integration.sync.daemons import Device, link, make_share


@pytest.fixture
def share_of(tmp_path: Path) -> Iterator[Callable[..., list[Device]]]:
    """``share_of("alice", "bob")``: devices holding one share, started and linked."""
    made: list[Device] = []

    def build(*names: str, start: bool = True) -> list[Device]:
        devices = [Device(tmp_path, name) for name in names]
        made.extend(devices)
        make_share(devices)
        if start:
            for device in devices:
                device.start()
            link(devices)
        return devices

    yield build
    for device in made:
        device.stop(signal.SIGKILL)


def read(path: Path) -> bytes | None:
    """The bytes of ``path``, None if it does not exist."""
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None


def live_entries(device: Device, path: str) -> list[str]:
    """The guids of the live manifest entries of ``path`` in the device's manifest log."""
    doc = replay(read_updates(log_path(device.folder, MANIFEST_GUID)))
    entries, _ = read_entries(doc)
    return sorted(e.guid for e in entries.values() if e.path == path and not e.deleted)


def holds(path: Path, data: bytes | None) -> Callable[[], bool]:
    """A condition for ``wait_for``: ``path`` holds ``data`` (None: does not exist)."""
    return lambda: read(path) == data if data is not None else not os.path.lexists(path)
