"""``p2psync run``'s stop: one stuck where cancelling cannot reach says where."""

from __future__ import annotations

import faulthandler
import os
import signal
import time
from types import SimpleNamespace
from typing import Any, cast

import pytest
import trio

from p2psync.cli import run
from p2psync.daemon.daemon import Daemon


class BlockingShare:
    """A share whose stop blocks the event loop's thread (what no cancel reaches)."""

    async def aclose(self) -> None:
        time.sleep(1.0)  # the blocking call under test, not a wait for a condition


class StuckDaemon:
    """Just what ``run._serve`` uses of a daemon: it starts, then its stop sticks."""

    def __init__(self) -> None:
        self.identity = SimpleNamespace(device_id="DEVICE")
        self.shares = {"s": BlockingShare()}

    async def run(self, *, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started("127.0.0.1:1")
        os.kill(os.getpid(), signal.SIGTERM)
        await trio.sleep_forever()


def test_a_stop_stuck_on_the_event_loop_writes_every_threads_stack(
    monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run, "STUCK_DUMP_S", 0.2)
    try:
        trio.run(run._serve, cast(Daemon, StuckDaemon()))
    finally:
        faulthandler.cancel_dump_traceback_later()
    err = capfd.readouterr().err
    assert "Timeout (0:00:00.200000)!" in err
    assert "in aclose" in err  # the stuck frame is named
