"""A bulk first sync seen by the tray against real daemons: the share's progress bar
takes values between 0 and 100 as the docs arrive, and the docs still to go fall."""

from __future__ import annotations

from pathlib import Path

from pytestqt.qtbot import QtBot

from p2psync.daemon.progress import ALMOST_DONE_PCT
from p2psync_tray.link import Snapshot
from p2psync_tray.models import PROGRESS_ROLE
from tests.gui.conftest import WAIT_MS, make_tray
from tests.support.daemons import Device, link, make_share, wait_for

FILES = 400


def files_of(device: Device, share: str) -> int:
    return int(next(s for s in device.status()["shares"] if s["id"] == share).get("files", 0))


def test_a_bulk_first_sync_moves_the_progress_bar(qtbot: QtBot, tmp_path: Path) -> None:
    a, b = Device(tmp_path, "alpha"), Device(tmp_path, "beta")
    share = make_share([a, b])
    for number in range(FILES):
        (a.folder / f"note-{number:04}.md").write_text(f"note {number}\n" * 20)
    a.start()
    b.start()
    tray = make_tray(b.home)
    seen: list[tuple[float | None, int]] = []

    def record(snapshot: Snapshot) -> None:
        rows = [s for s in snapshot.status["shares"] if s["id"] == share]
        if rows and rows[0]["peers_connected"]:
            seen.append((rows[0]["in_sync_pct"], rows[0]["remaining_docs"]))

    tray.link.snapshot.connect(record)
    try:
        wait_for(lambda: files_of(a, share) >= FILES, "alpha to take in its files")
        tray.start()
        link([a, b])
        qtbot.waitUntil(lambda: bool(seen) and seen[-1] == (100.0, 0), timeout=WAIT_MS * 4)
        row = [r["id"] for r in tray.window.shares.rows()].index(share)
        assert tray.window.shares.index(row, 5).data(PROGRESS_ROLE) == 100.0
    finally:
        tray.stop()
        b.stop()
        a.stop()
    mid_way = [(pct, left) for pct, left in seen if pct is not None and 0 < pct < 100]
    assert mid_way, seen  # the bar stood between 0 and 100 on the way
    # Docs still to go while the bar is short of done; none only in the last moment
    # when every doc is here but the member has not confirmed it yet (99.9 %).
    assert all(left > 0 or pct == ALMOST_DONE_PCT for pct, left in mid_way), mid_way
    lefts = [left for _, left in seen]
    assert max(lefts) > lefts[-1] == 0
