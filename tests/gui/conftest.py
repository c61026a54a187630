"""Fixtures of the tray app's tests: Qt on the offscreen platform, real daemons.

The offscreen platform is chosen before any QApplication exists (pytest-qt makes one
for the first test that needs it); the end-to-end test runs the tray on Xvfb in a
subprocess of its own.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from pytestqt.qtbot import QtBot

from p2psync_tray.tray import TrayApp
from tests.support.daemons import (
    Device,
    dial_first,
    link,
    make_share,
    start_all,
    stop_all,
    wait_for,
)
from tests.support.tray import Pair, make_tray

os.environ["QT_QPA_PLATFORM"] = "offscreen"


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[Pair]:
    a, b = Device(tmp_path, "alpha"), Device(tmp_path, "beta")
    share = make_share([a, b])
    start_all([a, b])
    dial_first(a, b)  # alpha's link to beta is "static", as the tests read it
    link([a, b])
    pair = Pair(a, b, share)
    try:
        wait_for(pair.connected, "alpha and beta to connect")
        yield pair
    finally:
        stop_all([b, a])


@pytest.fixture
def tray(qtbot: QtBot, pair: Pair) -> Iterator[TrayApp]:
    """The started tray app of the pair's first device."""
    app = make_tray(pair.a.home)
    app.start()
    yield app
    app.stop()
