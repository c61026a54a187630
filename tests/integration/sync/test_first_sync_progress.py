"""A 1,000-file first sync between two real daemons, seen at both ends: the sender
counts the files and bytes it sent of those the receiver lacks, the receiver those
that arrived of those asked and the bytes its index announced (``idx``'s sizes), each
between none and all on the way, in ``status`` and ``peers`` and the CLI's words."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.support.daemons import Device, limit_sending, link, make_share, setup, wait_for

FILES = 1000
SEND_KIB_S = 64
"""Alpha's send limit: its index and 1,000 notes (about 700 KB on the wire) take
seconds, so the polls see the sync mid-way."""
DEADLINE_S = 120.0


def share_row(device: Device, share: str) -> dict[str, Any]:
    return dict(next(s for s in device.status()["shares"] if s["id"] == share))


def peer_row(device: Device, other: Device) -> dict[str, Any]:
    return dict(next(p for p in device.ask("peers")["peers"] if p["device_id"] == other.id))


def test_both_ends_of_a_first_sync_count_files_and_bytes_as_they_go(tmp_path: Path) -> None:
    alpha, beta = Device(tmp_path, "alpha"), Device(tmp_path, "beta")
    share = make_share([alpha, beta])
    limit_sending(alpha, SEND_KIB_S)
    for number in range(FILES):
        (alpha.folder / f"note-{number:04}.md").write_text(f"note {number}\n" * 20)
    alpha.start()
    beta.start()
    sent: list[tuple[int, int, int, int]] = []  # alpha's figures of what it sends beta
    got: list[tuple[int, int, int, int | None]] = []  # beta's of what arrives from alpha
    texts: dict[str, str] = {}  # the CLI's words mid-way
    try:
        wait_for(lambda: share_row(alpha, share).get("files", 0) >= FILES, "alpha's scan", 60)
        link([alpha, beta])

        def both_in_sync() -> bool:
            a, b = share_row(alpha, share), share_row(beta, share)
            (member,) = a["members"]
            keys = ("files_sent", "files_to_send", "bytes_sent", "bytes_to_send")
            sent.append((a[keys[0]], a[keys[1]], a[keys[2]], a[keys[3]]))
            assert sent[-1] == tuple(member[k] for k in keys)  # one member: the share's
            got.append((b["files_received"], b["files_expected"], b["bytes_received"],
                        b["bytes_expected"]))  # fmt: skip
            if 0 < sent[-1][0] < FILES and "alpha" not in texts:
                texts["alpha"] = setup(alpha.home, "status").stdout
                texts["alpha peers"] = setup(alpha.home, "peers").stdout
                row = peer_row(alpha, beta)
                assert (row["files_to_send"], row["files_expected"]) == (FILES, 0)
            if 0 < got[-1][0] < FILES and "beta" not in texts:
                texts["beta"] = setup(beta.home, "status").stdout
                texts["beta peers"] = setup(beta.home, "peers").stdout
                row = peer_row(beta, alpha)
                assert (row["files_expected"], row["bytes_expected"] is not None) == (FILES, True)
            return bool(a["in_sync"] and b["in_sync"])

        wait_for(both_in_sync, "the first sync", DEADLINE_S)
    finally:
        beta.stop()
        alpha.stop()
    # the sender: some, not all, files and bytes sent of those beta lacks
    assert any(0 < s < total == FILES and 0 < b < b_total for s, total, b, b_total in sent), sent
    assert sent[-1][:2] == (FILES, FILES)
    assert [s[0] for s in sent if s[1] == FILES] == sorted(s[0] for s in sent if s[1] == FILES)
    # the receiver: some, not all, arrived, of the bytes announced before they came
    mid_way = [g for g in got if 0 < g[0] < g[1] == FILES]
    assert any(g[3] is not None and 0 < g[2] < g[3] for g in mid_way), got
    assert got[-1][:2] == (FILES, FILES)
    # all of it, exactly, at each end; the ends may count the manifest differently: a
    # receiver asked for it alone first (its index entry comes ahead) and had its whole
    # answer before it asked for a file starts a new transfer with the files
    assert got[-1][2] == got[-1][3], got[-1]
    assert sent[-1][2] == sent[-1][3], sent[-1]
    texts_bytes = sum(len(f"note {n}\n" * 20) for n in range(FILES))
    assert texts_bytes <= got[-1][2] <= sent[-1][2], (texts_bytes, got[-1], sent[-1])
    text = "\n".join(f"{name}:\n{words}" for name, words in texts.items())
    assert "Sending:\n  " in texts["alpha"], text
    assert f" of {FILES:,} files (" in texts["alpha"].split("Sending:")[1], text
    assert "Receiving:\n  " in texts["beta"], text
    assert " KiB of " in texts["beta"].split("Receiving:")[1], text
    assert "Transfers:\n  " in texts["alpha peers"], text
    assert ": sending " in texts["alpha peers"], text
    assert ": receiving " in texts["beta peers"], text
