"""The tray app (models, state, menu, notifications, pending devices) against real
daemons, on Qt's offscreen platform."""

from __future__ import annotations

import json
import signal
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QMenu
from pytestqt.qtbot import QtBot

from p2psync_tray.models import PROGRESS_ROLE
from p2psync_tray.notifications import Kind, Notification
from p2psync_tray.settings import TraySettings
from p2psync_tray.state import TrayState
from p2psync_tray.tray import TrayApp
from tests.support.daemons import Device, cli, setup
from tests.support.tray import WAIT_MS, Pair, find_action, make_tray, menu_texts, write_config


def peer_row(app: TrayApp, device: str) -> int:
    rows = [i for i, r in enumerate(app.window.peers.rows()) if r["device_id"] == device]
    return rows[0] if rows else -1


def test_menu_refills_without_piling_up_submenus(qtbot: QtBot, pair: Pair, tray: TrayApp) -> None:
    qtbot.waitUntil(lambda: tray.snapshot is not None, timeout=WAIT_MS)
    for _ in range(5):
        tray.fill_menu()
    qtbot.waitUntil(lambda: len(tray.menu.findChildren(QMenu)) == _submenus(tray.menu),
                    timeout=WAIT_MS)  # fmt: skip
    snapshot = tray.snapshot
    assert snapshot is not None
    assert _submenus(tray.menu) == 1 + len(snapshot.status["shares"])  # and Notifications


def _submenus(menu: QMenu) -> int:
    return sum(1 for action in menu.actions() if action.menu() is not None)


def test_models_show_peers_and_shares(qtbot: QtBot, pair: Pair, tray: TrayApp) -> None:
    qtbot.waitUntil(lambda: tray.shown_state is TrayState.UP_TO_DATE, timeout=WAIT_MS)
    peers = tray.window.peers
    qtbot.waitUntil(lambda: peer_row(tray, pair.b.id) == 0, timeout=WAIT_MS)
    headers = [peers.headerData(c, Qt.Orientation.Horizontal) for c in range(peers.columnCount())]
    assert headers == [
        "Name",
        "State",
        "Address",
        "Last seen",
        "Traffic",
        "Rate",
        "Sync",
        "Device ID",
    ]
    assert peers.text(0, 0) == pair.b.status()["name"]
    assert peers.text(0, 1) == "in sync"
    assert peers.text(0, 2).startswith("127.0.0.1:")
    assert peers.text(0, 3) == "now"
    assert peers.text(0, 4).startswith("↓ ")
    assert "B" in peers.text(0, 4)
    assert peers.text(0, 5).startswith("↓ ")
    assert "B/s" in peers.text(0, 5)
    assert peers.text(0, 6) == "100 %"
    assert peers.text(0, 7) == pair.b.id
    shares = tray.window.shares
    row = [r["id"] for r in shares.rows()].index(pair.share)
    assert shares.text(row, 0) == "alpha-share"
    assert shares.text(row, 3) == "1 of 1 connected"
    assert shares.text(row, 4) == "up to date"
    assert shares.index(row, 5).data(PROGRESS_ROLE) == 100.0


def test_a_peer_that_dialed_us_shows_where_it_listens(qtbot: QtBot, pair: Pair) -> None:
    # alpha dialed beta (the pair's static link), so beta's link to alpha came from an
    # ephemeral source port; beta knows alpha's listening address from its config.
    beta = make_tray(pair.b.home)
    beta.start()
    try:
        qtbot.waitUntil(lambda: peer_row(beta, pair.a.id) == 0, timeout=WAIT_MS)
        row = beta.window.peers.rows()[0]
        assert row["found_by"] == "incoming"
        assert row["address"] != pair.a.address  # the source port, not the listening one
        assert row["listen_addresses"] == [pair.a.address]
        assert beta.window.peers.text(0, 2) == f"{pair.a.address} (it dialed us)"
    finally:
        beta.stop()


def test_menu_lists_peers_and_shares_and_pauses(qtbot: QtBot, pair: Pair, tray: TrayApp) -> None:
    qtbot.waitUntil(lambda: tray.shown_state is TrayState.UP_TO_DATE, timeout=WAIT_MS)
    tray.fill_menu()
    texts = menu_texts(tray.menu)
    assert texts[0] == "p2psync — up to date"
    assert f"{pair.b.status()['name']} — in sync" in texts
    assert "alpha-share — up to date" in texts
    assert "  Open folder" in texts
    assert "Pause sync" in texts
    assert "Open status window" in texts
    assert texts[-1] == "Quit"
    find_action(tray.menu, "Pause sync").trigger()
    qtbot.waitUntil(lambda: tray.shown_state is TrayState.PAUSED, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: "Resume sync" in menu_texts(tray.menu), timeout=WAIT_MS)
    assert pair.a.status()["paused"]
    find_action(tray.menu, "Resume sync").trigger()
    qtbot.waitUntil(lambda: tray.shown_state is TrayState.UP_TO_DATE, timeout=WAIT_MS)
    assert not pair.a.status()["paused"]


def test_notifications_and_their_switches(qtbot: QtBot, pair: Pair, tray: TrayApp) -> None:
    shown: list[Notification] = []
    tray.notified.connect(shown.append)
    qtbot.waitUntil(lambda: tray.shown_state is TrayState.UP_TO_DATE, timeout=WAIT_MS)
    tray.fill_menu()
    switch = find_action(tray.menu, "Peer connected or disconnected")
    assert switch.isCheckable()
    assert switch.isChecked()
    said = f"{pair.b.status()['name']} disconnected"
    pair.b.stop()
    qtbot.waitUntil(lambda: any(n.text == said for n in shown), timeout=WAIT_MS)
    assert [n.kind for n in shown if n.text == said] == [Kind.PEERS]
    qtbot.waitUntil(lambda: tray.shown_state is TrayState.OFFLINE, timeout=WAIT_MS)
    find_action(tray.menu, "Peer connected or disconnected").trigger()  # off, and saved
    assert not TraySettings(pair.a.home).notify(Kind.PEERS)
    assert TraySettings(pair.a.home).notify(Kind.ERRORS)
    before = len(shown)
    pair.b.start()
    setup(pair.b.home, "peer", "add", pair.a.id, pair.a.address)
    events = tray.window.events
    qtbot.waitUntil(lambda: "peer-connected" in _event_types(events), timeout=WAIT_MS)
    assert [n for n in shown[before:] if n.kind is Kind.PEERS] == []  # handled, not notified
    qtbot.waitUntil(lambda: tray.shown_state is TrayState.UP_TO_DATE, timeout=WAIT_MS)


def test_pending_device_is_ignored_then_accepted(
    qtbot: QtBot, tmp_path: Path, pair: Pair, tray: TrayApp
) -> None:
    shown: list[Notification] = []
    tray.notified.connect(shown.append)
    qtbot.waitUntil(lambda: tray.snapshot is not None, timeout=WAIT_MS)
    gamma = Device(tmp_path, "gamma")
    share = setup(gamma.home, "share", "add", str(gamma.folder), "--create").stdout.strip()
    setup(gamma.home, "share", "member", "add", share, pair.a.id)
    gamma.start()
    try:
        setup(gamma.home, "peer", "add", pair.a.id, pair.a.address)
        pending = tray.window.pending
        qtbot.waitUntil(lambda: pending.rowCount() == 1, timeout=WAIT_MS)
        assert pending.text(0, 1) == gamma.id
        assert pending.text(0, 0) == gamma.status()["name"]
        qtbot.waitUntil(lambda: any(n.kind is Kind.PENDING for n in shown), timeout=WAIT_MS)
        tray.window.pending_view.selectRow(0)
        assert tray.window.selected_pending() == gamma.id

        tray.window.ignore_button.click()
        assert pending.rowCount() == 0
        assert tray.window.pending_box.title() == "Pending devices (0)"
        assert gamma.id in pair.a.status()["pending"]  # only the tray forgets it
        assert TraySettings(pair.a.home).ignored_devices() == {gamma.id}

        tray.asks.accept_pending(gamma.id, pair.share)
        qtbot.waitUntil(lambda: gamma.id not in pair.a.status()["pending"], timeout=WAIT_MS)
        shares = {s["id"]: s for s in pair.a.status()["shares"]}
        assert gamma.id in [m["device_id"] for m in shares[pair.share]["members"]]
    finally:
        gamma.stop()


def started_fresh_tray(tmp_path: Path) -> tuple[Path, TrayApp]:
    """A started tray of a new home named "fresh", with no daemon yet."""
    home = tmp_path / "fresh"
    write_config(home, "fresh")
    app = make_tray(home)
    app.start()
    return home, app


def test_starts_without_daemon_and_starts_one(qtbot: QtBot, tmp_path: Path) -> None:
    _, app = started_fresh_tray(tmp_path)
    try:
        qtbot.waitUntil(lambda: app.window.title.text() == "Daemon not running", timeout=WAIT_MS)
        assert app.shown_state is TrayState.NOT_RUNNING
        assert "Start daemon" in menu_texts(app.menu)
        assert app.window.start_button.isVisibleTo(app.window)
        find_action(app.menu, "Start daemon").trigger()
        qtbot.waitUntil(lambda: app.snapshot is not None, timeout=WAIT_MS)
        assert app.snapshot is not None
        assert app.snapshot.status["name"] == "fresh"
        qtbot.waitUntil(lambda: app.shown_state is TrayState.UP_TO_DATE, timeout=WAIT_MS)
        assert "Start daemon" not in menu_texts(app.menu)
        assert not app.window.start_button.isVisibleTo(app.window)
        # the daemon stops and comes back: the tray follows
        first = app.daemon_process
        assert first is not None
        first.terminate()
        first.wait(timeout=30)
        qtbot.waitUntil(lambda: app.shown_state is TrayState.NOT_RUNNING, timeout=WAIT_MS)
        assert app.window.title.text() == "Daemon not running"
        qtbot.waitUntil(lambda: not app._watch.isActive(), timeout=WAIT_MS)
        assert app.window.detail.text() == "the daemon stopped"  # a clean stop, not a crash
        asking = (app.window.invite_button, app.window.join_button, app.window.add_share_button)
        assert not any(button.isEnabled() for button in asking)  # no daemon to ask
        app.window.start_button.click()
        qtbot.waitUntil(lambda: app.shown_state is TrayState.UP_TO_DATE, timeout=WAIT_MS)
        assert all(button.isEnabled() for button in asking)
        assert app.daemon_process is not first
    finally:
        app.stop()
        if app.daemon_process is not None:
            app.daemon_process.terminate()
            app.daemon_process.wait(timeout=30)


def _event_types(model: Any) -> list[str]:
    return [str(r.get("type")) for r in model.rows()]


def _stop_started(app: TrayApp) -> None:
    app.stop()
    process = app.daemon_process
    if process is not None and process.poll() is None:
        process.terminate()
        process.wait(timeout=30)


def test_start_daemon_from_the_folder_holding_a_clone(
    qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Started from a folder whose ``p2psync/`` is not the installed package (a clone
    of the project), the daemon still comes up."""
    clone = tmp_path / "clone"
    (clone / "p2psync").mkdir(parents=True)
    (clone / "p2psync" / "__init__.py").write_text("")  # no __version__: the wrong package
    monkeypatch.chdir(clone)
    _, app = started_fresh_tray(tmp_path)
    try:
        qtbot.waitUntil(lambda: app.shown_state is TrayState.NOT_RUNNING, timeout=WAIT_MS)
        app.start_daemon()
        qtbot.waitUntil(lambda: app.snapshot is not None, timeout=WAIT_MS)
        assert app.snapshot is not None
        assert app.snapshot.status["name"] == "fresh"
    finally:
        _stop_started(app)


def test_a_failed_start_says_so_and_where_the_log_is(qtbot: QtBot, tmp_path: Path) -> None:
    home = tmp_path / "broken"
    write_config(home, "broken")
    (home / "config.toml").write_text("[device]\nname = 5\n")  # the daemon refuses it
    app = make_tray(home)
    shown: list[Notification] = []
    app.notified.connect(shown.append)
    app.start()
    try:
        qtbot.waitUntil(lambda: app.shown_state is TrayState.NOT_RUNNING, timeout=WAIT_MS)
        app.start_daemon()
        qtbot.waitUntil(lambda: app.window.detail.text().startswith("The daemon "),
                        timeout=WAIT_MS)  # fmt: skip
        detail = app.window.detail.text()
        assert detail.startswith("The daemon did not start (it exited with 2): ")
        assert "name" in detail  # the daemon's own sentence about the config
        assert detail.endswith(f"Its log is {home / 'daemon.log'}.")
        assert [n.text for n in shown] == [detail]
        assert app.window.start_button.isVisibleTo(app.window)  # to try again
    finally:
        _stop_started(app)


def test_a_crash_is_not_told_as_a_stop(qtbot: QtBot, tmp_path: Path) -> None:
    home, app = started_fresh_tray(tmp_path)
    try:
        app.start_daemon()
        qtbot.waitUntil(lambda: app.shown_state is TrayState.UP_TO_DATE, timeout=WAIT_MS)
        process = app.daemon_process
        assert process is not None
        process.send_signal(signal.SIGKILL)
        qtbot.waitUntil(lambda: app.shown_state is TrayState.NOT_RUNNING, timeout=WAIT_MS)
        qtbot.waitUntil(lambda: app.window.detail.text().startswith("The daemon "),
                        timeout=WAIT_MS)  # fmt: skip
        detail = app.window.detail.text()
        assert detail.startswith("The daemon crashed (it was killed by SIGKILL)")
        assert detail.endswith(f"Its log is {home / 'daemon.log'}.")
        assert "stopped" not in detail
    finally:
        _stop_started(app)


def test_rename_and_pause_a_share_from_the_window(
    qtbot: QtBot, pair: Pair, tray: TrayApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    qtbot.waitUntil(lambda: tray.shown_state is TrayState.UP_TO_DATE, timeout=WAIT_MS)
    window = tray.window
    assert window.rename_button.isVisibleTo(window)
    monkeypatch.setattr(QInputDialog, "getText", lambda *a, **k: ("alpha laptop", True))
    window.rename_button.click()
    qtbot.waitUntil(lambda: pair.a.status()["name"] == "alpha laptop", timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.title.text().startswith("alpha laptop — "), timeout=WAIT_MS)

    row = [r["id"] for r in window.shares.rows()].index(pair.share)
    window.shares_view.selectRow(row)
    assert window.pause_share_button.text() == "Pause this share"
    window.pause_share_button.click()

    def share_paused() -> bool:
        shares = {s["id"]: s for s in json.loads(cli(pair.a.home, "status", "--json").stdout)
                  ["shares"]}  # fmt: skip
        return bool(shares[pair.share]["paused"])

    qtbot.waitUntil(share_paused, timeout=WAIT_MS)
    qtbot.waitUntil(lambda: window.pause_share_button.text() == "Resume this share",
                    timeout=WAIT_MS)  # fmt: skip
    window.pause_share_button.click()
    qtbot.waitUntil(lambda: not share_paused(), timeout=WAIT_MS)
