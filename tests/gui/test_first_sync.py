"""A bulk first sync seen by the tray against real daemons: the share's progress bar
takes values between 0 and 100 as the docs arrive, the docs still to go fall, and the
files and bytes received grow, in the daemon's status and the Progress cell; the
sending end's cell counts the files sent."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from p2psync.daemon.progress import ALMOST_DONE_PCT
from p2psync_tray.link import Snapshot
from p2psync_tray.models import PROGRESS_ROLE
from tests.support.daemons import Device, limit_sending, link, make_share, wait_for
from tests.support.tray import WAIT_MS, make_tray

FILES = 400
SEND_KIB_S = 32
"""The sender's limit: its 400 notes (about 100 KB on the wire) take about three
seconds, so the tray is seen mid-way."""


def files_of(device: Device, share: str) -> int:
    return int(next(s for s in device.status()["shares"] if s["id"] == share).get("files", 0))


def test_a_bulk_first_sync_moves_the_progress_bar(qtbot: QtBot, tmp_path: Path) -> None:
    a, b = Device(tmp_path, "alpha"), Device(tmp_path, "beta")
    share = make_share([a, b])
    limit_sending(a, SEND_KIB_S)
    for number in range(FILES):
        (a.folder / f"note-{number:04}.md").write_text(f"note {number}\n" * 20)
    a.start()
    b.start()
    tray, sender = make_tray(b.home), make_tray(a.home)
    sent: list[tuple[int, int, str]] = []  # alpha's files sent, to send; its cell
    seen: list[tuple[float | None, int]] = []
    received: list[tuple[int, int, int, str]] = []  # files received, expected, bytes; cell

    def record(snapshot: Snapshot) -> None:
        rows = [s for s in snapshot.status["shares"] if s["id"] == share]
        if rows and rows[0]["peers_connected"]:
            row = rows[0]
            seen.append((row["in_sync_pct"], row["remaining_docs"]))
            (member,) = row["members"]
            assert (member["files_received"], member["bytes_received"]) == (
                row["files_received"],
                row["bytes_received"],
            )  # one member: the share's
            cell = [r["id"] for r in tray.window.shares.rows()].index(share)
            text = tray.window.shares.index(cell, 5).data(Qt.ItemDataRole.DisplayRole)
            received.append((row["files_received"], row["files_expected"],
                             row["bytes_received"], str(text)))  # fmt: skip

    def record_sent(snapshot: Snapshot) -> None:
        rows = [s for s in snapshot.status["shares"] if s["id"] == share]
        if rows and rows[0]["peers_connected"] and not rows[0]["in_sync"]:
            cell = [r["id"] for r in sender.window.shares.rows()].index(share)
            text = sender.window.shares.index(cell, 5).data(Qt.ItemDataRole.DisplayRole)
            sent.append((rows[0]["files_sent"], rows[0]["files_to_send"], str(text)))

    tray.link.snapshot.connect(record)
    sender.link.snapshot.connect(record_sent)
    try:
        wait_for(lambda: files_of(a, share) >= FILES, "alpha to take in its files")
        tray.start()
        sender.start()
        link([a, b])
        qtbot.waitUntil(lambda: bool(seen) and seen[-1] == (100.0, 0), timeout=WAIT_MS * 4)
        row = [r["id"] for r in tray.window.shares.rows()].index(share)
        assert tray.window.shares.index(row, 5).data(PROGRESS_ROLE) == 100.0
    finally:
        sender.stop()
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
    # Files and bytes as they arrive: some, not all, of the files, said in the cell too
    arriving = [r for r in received if 0 < r[0] < r[1] == FILES and r[2] > 0]
    assert arriving, "\n".join(map(str, received))
    assert any(f"/{FILES} files · " in text for *_, text in arriving), arriving
    assert all(" · ↓ " in text for *_, text in arriving), arriving
    # and the sending end's cell says how many went, some, not all, on the way
    going = [r for r in sent if 0 < r[0] < r[1] == FILES]
    assert any(f" · ↑ {r[0]:,}/{FILES} files · " in r[2] for r in going), sent
    assert received[-1][:2] == (FILES, FILES)
    counts = [r[0] for r in received if r[1] == FILES]
    assert counts == sorted(counts)  # files received only grow
    assert received[-1][2] > 20 * len("note 0000\n") * FILES // 2  # their text's bytes
