"""DaemonLink against real daemons: snapshots, events, requests, restarts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pytestqt.qtbot import QtBot

from p2psync.control.home import Home
from p2psync_tray.link import DaemonLink, Snapshot
from tests.support.daemons import Device
from tests.support.tray import FAST_POLL_S, Pair

WAIT_MS = 30_000


class Recorder:
    """What a link said, in order."""

    def __init__(self, link: DaemonLink) -> None:
        self.snapshots: list[Snapshot] = []
        self.events: list[dict[str, Any]] = []
        self.ups: list[dict[str, Any]] = []
        self.downs: list[str] = []
        self.failed: list[tuple[str, str]] = []
        self.done: list[tuple[str, Any]] = []
        self.follows = 0
        link.snapshot.connect(self.snapshots.append)
        link.event_received.connect(self.events.append)
        link.up.connect(self.ups.append)
        link.down.connect(self.downs.append)
        link.failed.connect(lambda what, why: self.failed.append((what, why)))
        link.done.connect(lambda what, result: self.done.append((what, result)))
        link.following.connect(self._followed)

    def _followed(self) -> None:
        self.follows += 1

    def event_types(self) -> list[str]:
        return [str(e.get("type")) for e in self.events]


@pytest.fixture
def linked(pair: Pair) -> Iterator[tuple[DaemonLink, Recorder]]:
    link = DaemonLink(Home.resolve(pair.a.home).socket_path, poll_s=FAST_POLL_S)
    recorder = Recorder(link)
    link.start()
    yield link, recorder
    link.stop()


def test_snapshots_carry_status_and_peers(qtbot: QtBot, pair: Pair, linked: Any) -> None:
    _, rec = linked
    qtbot.waitUntil(lambda: bool(rec.snapshots), timeout=WAIT_MS)
    snapshot = rec.snapshots[-1]
    assert snapshot.status["device_id"] == pair.a.id
    assert [p["device_id"] for p in snapshot.peers["peers"]] == [pair.b.id]
    assert rec.ups[0]["device_id"] == pair.a.id
    assert "status" in rec.ups[0]["methods"]


def test_events_arrive_and_requests_run(qtbot: QtBot, pair: Pair, linked: Any) -> None:
    link, rec = linked
    qtbot.waitUntil(lambda: bool(rec.snapshots), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: rec.follows > 0, timeout=WAIT_MS)  # else "paused" may come first
    link.request("pause sync", "pause")
    qtbot.waitUntil(lambda: rec.done == [("pause sync", {"paused": True})], timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "paused" in rec.event_types(), timeout=WAIT_MS)
    qtbot.waitUntil(lambda: rec.snapshots[-1].status["paused"], timeout=WAIT_MS)
    link.request("pause a share", "pause", share="not-a-share-id")
    qtbot.waitUntil(lambda: bool(rec.failed), timeout=WAIT_MS)
    assert rec.failed[0][0] == "pause a share"
    link.request("resume sync", "resume")
    qtbot.waitUntil(lambda: "peer-connected" in rec.event_types(), timeout=WAIT_MS)


def test_ask_tells_only_its_caller_queued_or_apart(qtbot: QtBot, pair: Pair, linked: Any) -> None:
    link, rec = linked
    qtbot.waitUntil(lambda: bool(rec.snapshots), timeout=WAIT_MS)
    results: list[Any] = []
    failures: list[str] = []
    replies = [
        link.ask("ask status", "status", on_done=results.append, on_failed=failures.append),
        link.ask(
            "ask a pause",
            "pause",
            on_done=results.append,
            on_failed=failures.append,
            timeout_s=5.0,
            share="not-a-share-id",
        ),
    ]
    qtbot.waitUntil(lambda: len(results) == 1 and len(failures) == 1, timeout=WAIT_MS)
    assert len(replies) == 2
    assert results[0]["device_id"] == pair.a.id
    assert failures[0]  # the daemon's sentence
    assert [what for what, _ in rec.done + rec.failed if what.startswith("ask")] == []


def test_starts_before_the_daemon_and_survives_its_restart(qtbot: QtBot, tmp_path: Path) -> None:
    device = Device(tmp_path, "solo")
    link = DaemonLink(Home.resolve(device.home).socket_path, poll_s=FAST_POLL_S)
    rec = Recorder(link)
    link.start()
    try:
        qtbot.waitUntil(lambda: bool(rec.downs), timeout=WAIT_MS)
        assert rec.downs[0].startswith("no daemon is running")
        link.request("pause sync", "pause")
        qtbot.waitUntil(lambda: bool(rec.failed), timeout=WAIT_MS)
        assert rec.failed[0] == ("pause sync", "no daemon is running")
        device.start()
        qtbot.waitUntil(lambda: len(rec.ups) == 1 and bool(rec.snapshots), timeout=WAIT_MS)
        device.stop()
        qtbot.waitUntil(lambda: rec.downs[-1] == "the daemon stopped", timeout=WAIT_MS)
        device.start()
        qtbot.waitUntil(lambda: len(rec.ups) == 2, timeout=WAIT_MS)
        # the event stream comes back on its own: a pause on the new daemon is heard
        # (paused again until heard, as the stream may reconnect after the first one)
        sent = [len(rec.done)]

        def pause_heard() -> bool:
            if "paused" in rec.event_types():
                return True
            if len(rec.done) == sent[0]:
                link.request("resume sync", "resume")
                link.request("pause sync", "pause")
                sent[0] += 2
            return False

        qtbot.waitUntil(pause_heard, timeout=WAIT_MS)
    finally:
        link.stop()
        device.stop()
