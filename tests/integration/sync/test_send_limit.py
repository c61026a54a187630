"""``[listen] max_send_kib_s`` between two real daemons: a first sync through a link
held to the limit goes out at about that rate, measured by the bytes the sender's
link wrote (``peers``' ``bytes_out``, the same bytes the limit counts) over seconds."""

from __future__ import annotations

import time
from pathlib import Path

from tests.support.daemons import (
    Device,
    limit_sending,
    link,
    make_share,
    start_all,
    stop_all,
    wait_for,
)

LIMIT_KIB_S = 128
FILES = 400
NOTE_LINES = 200
"""About 2 KiB a note: 400 of them are about 6 s of sending at the limit."""
START_BYTES = 64 * 1024
"""Measured from here: past the link's first writes (its first index and answers)."""
WINDOW_BYTES = 512 * 1024
"""Measured over this much: four seconds at the limit, many writes (a write takes at
most 64 KiB of what is queued, so a window is off by one write at most)."""
DEADLINE_S = 60.0


def bytes_out(device: Device, to: Device) -> int:
    """What ``device``'s link to ``to`` wrote so far (0 with no link)."""
    peers = device.ask("peers")["peers"]
    return int(next((p["bytes_out"] for p in peers if p["device_id"] == to.id), 0))


def test_a_link_held_to_a_send_limit_sends_at_about_that_rate(tmp_path: Path) -> None:
    alpha, beta = Device(tmp_path, "alpha"), Device(tmp_path, "beta")
    share = make_share([alpha, beta])
    limit_sending(alpha, LIMIT_KIB_S)
    for number in range(FILES):
        (alpha.folder / f"note-{number:04}.md").write_text(f"note {number}\n" * NOTE_LINES)
    start_all([alpha, beta])
    seen: list[tuple[float, int]] = []  # (when, alpha's bytes written to beta)

    def files() -> int:
        row = next(s for s in alpha.ask("status")["shares"] if s["id"] == share)
        return int(row.get("files", 0))

    def window_sent() -> bool:
        seen.append((time.monotonic(), bytes_out(alpha, beta)))
        return seen[-1][1] >= START_BYTES + WINDOW_BYTES

    try:
        wait_for(lambda: files() >= FILES, "alpha's scan", DEADLINE_S)
        link([alpha, beta])
        wait_for(window_sent, "alpha to send the bytes measured", DEADLINE_S)
    finally:
        stop_all([alpha, beta])
    start, end = next(s for s in seen if s[1] >= START_BYTES), seen[-1]
    kib_s = (end[1] - start[1]) / 1024 / (end[0] - start[0])
    # about the limit: not faster (one write more than the time allows at most, and
    # the polls' timing), and not much slower either
    assert 0.5 * LIMIT_KIB_S <= kib_s <= 1.35 * LIMIT_KIB_S, (kib_s, seen)
