"""A first sync through a link slower than its answers (``[listen] max_send_kib_s``):
answering from logs waits for room in the peer's send queue, so the link is never
dropped as "cannot keep up" (more answers than the queue holds: it was, over and
over, 957 times in one first sync of 11,000 notes at 512 KiB/s)."""

from __future__ import annotations

from pathlib import Path

import pytest

from p2psync.daemon.links import SEND_QUEUE_MESSAGES
from tests.support.daemons import Device, limit_sending, link, make_share, stop_all, wait_for

NOTES = SEND_QUEUE_MESSAGES + 1_000
"""More docs than a link's queue holds messages: their answers cannot all be queued."""
LIMIT_KIB_S = 512


@pytest.mark.slow
def test_a_first_sync_larger_than_the_send_queue_is_not_dropped(tmp_path: Path) -> None:
    alpha, beta = Device(tmp_path, "alpha"), Device(tmp_path, "beta")
    share = make_share([alpha, beta])
    for number in range(NOTES):
        (alpha.folder / f"note-{number:05}.md").write_text(f"note {number}\n")
    limit_sending(alpha, LIMIT_KIB_S)

    def files(device: Device) -> int:
        row = next(s for s in device.ask("status")["shares"] if s["id"] == share)
        return int(row.get("files", 0))

    try:
        alpha.start()
        wait_for(lambda: files(alpha) == NOTES, "alpha's scan", 300)
        beta.start()
        link([alpha, beta])
        wait_for(lambda: files(beta) == NOTES, "the notes at beta", 300)
        last = beta.folder / f"note-{NOTES - 1:05}.md"
        wait_for(last.is_file, "the last note's file at beta", 300)
        assert last.read_text() == f"note {NOTES - 1}\n"
    finally:
        stop_all([alpha, beta])
    assert "cannot keep up" not in (alpha.home / "daemon.log").read_text()
