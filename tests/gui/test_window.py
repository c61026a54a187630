"""The status window's and the dialogs' layout, from made-up daemon results (no daemon),
on Qt's offscreen platform: every row of a section is visible at 1024x768, no widget is
laid over another, and the header says the state of the snapshot the tables show; and
a real daemon's files not in sync and conflict copies, listed for their share."""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path
from typing import Any

from PySide6.QtWidgets import QDialog, QLabel, QTableView
from pytestqt.qtbot import QtBot

from p2psync_tray.invites import InviteDialog, JoinDialog
from p2psync_tray.link import Snapshot
from p2psync_tray.state import TrayState
from p2psync_tray.tray import TrayApp
from p2psync_tray.window import StatusWindow
from tests.gui.fakes import PEER_IDS, FakeLink, sample_snapshot
from tests.support.daemons import Device, link, make_share, wait_for
from tests.support.tray import WAIT_MS, make_tray, select_share
from tests.support.widgets import rect_in, settle, shown

CODE = "-".join(["ABCDEF", "GHIJKL", "MNOPQR", "STUVWX", "YZ2345"] * 3)


def rows_visible(view: QTableView) -> bool:
    viewport = view.viewport().rect()
    return all(
        viewport.contains(view.visualRect(view.model().index(row, 0)))
        for row in range(view.model().rowCount())
    )


def test_every_row_of_peers_and_shares_shows_at_1024x768(qtbot: QtBot) -> None:
    window = StatusWindow()
    qtbot.addWidget(window)
    window.resize(1024, 768 - 40)  # a panel takes its share of the screen
    window.show()
    window.show_snapshot(sample_snapshot(time.time()), set())
    for number in range(12):
        window.add_event({"type": "paused", "time": time.time(), "n": number})
    settle()
    assert window.minimumSizeHint().height() <= 768 - 40
    assert window.shares.rowCount() == 2
    assert window.peers.rowCount() == 3
    assert rows_visible(window.shares_view)
    assert rows_visible(window.peers_view)
    # sized to content: no more than a row's height left over under the last row
    spare = window.peers_view.viewport().height() - 3 * window.peers_view.rowHeight(0)
    assert spare < window.peers_view.rowHeight(0)
    # the recent events take the rest, and show several rows
    assert window.events_view.viewport().height() >= 4 * window.events_view.rowHeight(0)


def test_rows_stay_visible_when_a_transfer_widens_them(qtbot: QtBot) -> None:
    # the same rows come back with a transfer's figures: wider cells, a scroll bar,
    # and the table grows by its height instead of cutting the last row
    window = StatusWindow()
    qtbot.addWidget(window)
    window.resize(1024, 768 - 40)
    window.show()
    now = time.time()
    snapshot = sample_snapshot(now)
    window.show_snapshot(snapshot, set())
    settle()
    sending = {"connected": True, "in_sync": False, "sync_pct": 0.0, "files_to_send": 1500,
               "files_sent": 527, "bytes_sent": 768_382, "bytes_to_send": 1_468_006}  # fmt: skip
    peers = [{**row, **sending} for row in snapshot.peers["peers"]]
    window.show_snapshot(Snapshot(snapshot.status, {**snapshot.peers, "peers": peers}, now), set())
    settle()
    assert "↑ 527/1,500 files · 0.7/1.4 MiB" in window.peers.text(0, 6)
    assert rows_visible(window.peers_view)
    assert rows_visible(window.shares_view)


def test_pending_devices_are_not_claimed_after_the_daemon_stops(qtbot: QtBot) -> None:
    window = StatusWindow()
    qtbot.addWidget(window)
    window.show()
    snapshot = sample_snapshot(time.time())
    pending = {"device_id": PEER_IDS[2], "name": "stranger", "address": "", "last_seen": 1.0}
    window.show_snapshot(Snapshot(snapshot.status, {**snapshot.peers, "pending": [pending]}), set())
    assert window.pending_box.title() == "Pending devices (1)"
    assert window.pending_box.isVisible()
    window.show_down("the daemon stopped")
    assert window.pending.rowCount() == 0
    assert window.pending_box.title() == "Pending devices (0)"
    assert not window.pending_box.isVisible()


def test_share_problems_show_for_the_selected_share(qtbot: QtBot) -> None:
    window = StatusWindow()
    qtbot.addWidget(window)
    window.show()
    window.show_snapshot(sample_snapshot(time.time()), set(), TrayState.SYNCING)
    assert window.shares.text(1, 6) == "1 file, 1 conflict copy"
    assert window.shares.text(0, 6) == "—"
    window.shares_view.selectRow(1)
    assert window.share_detail.isVisible()
    text = window.share_detail.text()
    assert "Not in sync: figures/big.bin: not a text file p2psync syncs" in text
    assert "Conflict copy of notes.md: notes.2026-12-05T10-00-00.PPPPPPP.md" in text
    assert window.pause_share_button.text() == "Pause this share"
    window.shares_view.selectRow(0)
    assert not window.share_detail.isVisible()


def test_invite_expiry_is_not_laid_over_the_code(qtbot: QtBot) -> None:
    shares = sample_snapshot(time.time()).status["shares"]
    dialog = InviteDialog(FakeLink(), shares)  # type: ignore[arg-type]
    qtbot.addWidget(dialog)
    dialog.show()
    settle()
    dialog._made({"code": CODE, "expires": time.time() + 3600})
    settle()
    code, expiry = rect_in(dialog.code_box, dialog), rect_in(dialog.expiry, dialog)
    assert dialog.expiry.text().startswith("One use, until ")
    assert not code.intersects(expiry), (code, expiry)
    assert expiry.height() >= dialog.expiry.heightForWidth(expiry.width())  # all its lines
    assert dialog.rect().contains(expiry)


def test_join_error_is_not_laid_over_the_code_box(qtbot: QtBot) -> None:
    dialog = shown(qtbot, JoinDialog(FakeLink()))  # type: ignore[arg-type]
    dialog.code_box.setPlainText("ABCDEF-GHIJKL-XXXX")
    settle()
    code, verdict = rect_in(dialog.code_box, dialog), rect_in(dialog.verdict, dialog)
    assert "short" in dialog.verdict.text()
    assert not code.intersects(verdict), (code, verdict)
    assert verdict.height() >= dialog.verdict.heightForWidth(verdict.width())
    folder = rect_in(dialog.folder, dialog)
    assert not verdict.intersects(folder), (verdict, folder)


def test_header_says_the_state_of_the_tables_at_once(qtbot: QtBot, tmp_path: Path) -> None:
    tray = TrayApp(tmp_path / "home", moment_s=3600.0)  # the icon waits an hour
    qtbot.addWidget(tray.window)
    now = time.time()
    syncing = sample_snapshot(now)
    tray._on_snapshot(syncing)
    assert tray.window.title.text() == "ana-laptop — syncing"
    status = syncing.status
    done = {**status, "state": "up-to-date", "shares": [
        {**s, "in_sync": True, "in_sync_pct": 100.0, "not_in_sync": [], "conflicts": [],
         "members": [{**m, "state": "in-sync", "sync_pct": 100.0} for m in s["members"]]}
        for s in status["shares"]
    ]}  # fmt: skip
    tray._on_snapshot(Snapshot(done, syncing.peers, now + 1))
    assert tray.shown_state is TrayState.SYNCING  # the icon waits its moment
    assert tray.window.title.text() == "ana-laptop — up to date"  # the header does not
    assert tray.window.windowTitle() == "p2psync — up to date"


def test_the_dialogs_screenshot_check_finds_widgets_laid_over_each_other(qtbot: QtBot) -> None:
    path = Path(__file__).parents[2] / "gui" / "tools" / "dialogs_screenshot.py"
    spec = importlib.util.spec_from_file_location("dialogs_screenshot", path)
    assert spec is not None
    assert spec.loader is not None
    tools = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tools)
    dialog = shown(qtbot, QDialog())
    dialog.resize(300, 200)
    one, two = QLabel("one", dialog), QLabel("two", dialog)
    one.setGeometry(10, 10, 100, 20)
    two.setGeometry(10, 40, 100, 20)
    one.show()
    two.show()
    settle()
    assert tools.laid_over(dialog) == ""
    two.move(50, 15)
    assert tools.laid_over(dialog) == "QLabel 'one' is laid over QLabel 'two'"
    two.move(250, 40)
    assert tools.laid_over(dialog) == "QLabel 'two' reaches outside the dialog"
    two.move(10, 40)
    one.setWordWrap(True)
    one.setText("a sentence far too long for one line of a hundred pixels")
    assert tools.laid_over(dialog).endswith("is cut short")


def share_of(device: Device, share: str) -> dict[str, Any]:
    """``share`` as the device's daemon's status says."""
    return dict(next(s for s in device.status()["shares"] if s["id"] == share))


def test_a_real_daemons_files_not_in_sync_and_conflict_copies_show(
    qtbot: QtBot, tmp_path: Path
) -> None:
    """The data-safety fields of a real daemon's status, in the window: a file the
    share cannot sync (a text file made binary) and the copy kept when both devices
    made the same path while apart."""
    a, b = Device(tmp_path, "alpha"), Device(tmp_path, "beta")
    share = make_share([a, b])
    (a.folder / "same.md").write_text("alpha's version\n")
    (b.folder / "same.md").write_text("beta's version\n")
    (a.folder / "notes.md").write_text("first line\n")
    # beta's same.md is made first, so alpha's loses the path: alpha keeps its copy
    b.start()
    wait_for(lambda: share_of(b, share).get("files") == 1, "beta to take in same.md")
    a.start()
    tray = make_tray(a.home)
    try:
        wait_for(lambda: share_of(a, share).get("files") == 2, "alpha to take in its files")
        link([a, b])
        wait_for(lambda: bool(share_of(a, share)["conflicts"]), "the copy of same.md", 120)
        wait_for((b.folder / "notes.md").is_file, "notes.md at beta")
        wait_for(lambda: share_of(a, share)["in_sync"], "alpha in sync", 120)  # notes.md is text
        (a.folder / "notes.md").write_bytes(b"first line\n\xff\n")
        wait_for(lambda: bool(share_of(a, share)["not_in_sync"]), "notes.md not in sync", 120)
        tray.start()
        window = tray.window

        def row() -> dict[str, Any]:
            rows = [r for r in window.shares.rows() if r["id"] == share]
            return dict(rows[0]) if rows else {}

        qtbot.waitUntil(lambda: bool(row().get("not_in_sync")) and bool(row().get("conflicts")),
                        timeout=WAIT_MS * 2)  # fmt: skip
        select_share(tray, share)
        qtbot.waitUntil(lambda: window.share_detail.isVisibleTo(window), timeout=WAIT_MS)
        text = window.share_detail.text()
        assert "Not in sync: notes.md: a text file became binary" in text
        assert "Conflict copy of same.md: same.conflict-" in text
        assert text.endswith("(collision)")  # why it was kept
        assert text.count("Conflict copy") == 1
        cell = window.shares.text([r["id"] for r in window.shares.rows()].index(share), 6)
        assert cell == "1 file, 1 conflict copy"
    finally:
        tray.stop()
        b.stop()
        a.stop()
