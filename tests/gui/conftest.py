"""Fixtures of the tray app's tests: Qt on the offscreen platform, real daemons.

The offscreen platform is chosen before any QApplication exists (pytest-qt makes one
for the first test that needs it); the end-to-end test runs the tray on Xvfb in a
subprocess of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.sync.daemons import Device, link, make_share, wait_for

os.environ["QT_QPA_PLATFORM"] = "offscreen"

FAST_POLL_S = 0.2
FAST_MOMENT_S = 0.3


@dataclass
class Pair:
    """Two running devices sharing one folder, connected to each other."""

    a: Device
    b: Device
    share: str

    def connected(self) -> bool:
        return self.b.id in self.a.status()["connected"]


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    a, b = Device(tmp_path, "alpha"), Device(tmp_path, "beta")
    share = make_share([a, b])
    a.start()
    b.start()
    link([a, b])
    pair = Pair(a, b, share)
    try:
        wait_for(pair.connected, "alpha and beta to connect")
        yield pair
    finally:
        b.stop()
        a.stop()


def write_config(home: Path, name: str) -> None:
    """A config for a fresh home: loopback only, no LAN discovery, no share."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "config.toml").write_text(
        f'[device]\nname = "{name}"\n\n[listen]\naddress = "127.0.0.1:0"\nmdns = false\n'
    )
