"""Real daemons killed with SIGKILL and restarted: what the logs hold stays.

Other programs append to a doc's log through ``append_update`` (docs/storage.md)
while the daemon runs or is down, and a user saves the file while it is down. The
restarted daemon must merge the save with every append, never turn what its file
did not show into deletions.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from typing import Any

import pycrdt

from p2psync.mirror.records import record_file
from p2psync.storage import append_update, read_updates
from p2psync.storage.compaction import replay
from p2psync.storage.layout import log_path
from tests.support.daemons import Device, wait_for
from tests.support.mirror import read
from tests.support.probes import guid_of


def append_line(device: Device, guid: str, line: str, client_id: int) -> None:
    """Another program appends ``line`` at the end of the doc, through its log."""
    path = log_path(device.folder, guid)
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=client_id)
    doc.apply_update(replay(read_updates(path)).get_update())
    before = doc.get_state()
    text = doc.get("content", type=pycrdt.Text)
    text.insert(len(text), line)
    append_update(path, doc.get_update(before))


def lines_are(device: Device, expected: list[str]) -> Callable[[], bool]:
    def check() -> bool:
        data = read(device.folder / "d.txt")
        return data is not None and sorted(data.decode().splitlines()) == sorted(expected)

    return check


def test_a_save_made_while_down_keeps_an_append_made_while_down(
    share_of: Callable[..., list[Device]],
) -> None:
    alice, bob = share_of("alice", "bob")
    (alice.folder / "d.txt").write_text("header\n")
    wait_for(lines_are(bob, ["header"]), "the file at bob")
    guid = guid_of(alice, "d.txt")
    alice.stop(signal.SIGKILL)
    append_line(alice, guid, "T3\n", client_id=3003)
    (alice.folder / "d.txt").write_text("header\nuser\n")
    alice.start(port=int(alice.address.rsplit(":", 1)[1]))
    expected = ["header", "T3", "user"]
    wait_for(lines_are(alice, expected), "both lines at alice")
    wait_for(lines_are(bob, expected), "both lines at bob")


def test_the_daemons_own_last_writes_survive_a_kill_without_an_edit(
    share_of: Callable[..., list[Device]],
) -> None:
    (alice,) = share_of("alice")
    (alice.folder / "d.txt").write_text("header\n")
    wait_for(lambda: record_file(alice.folder, "d.txt").exists(), "a sync record")
    guid = guid_of(alice, "d.txt")
    for n, token in enumerate(["T1", "T2"]):
        append_line(alice, guid, token + "\n", client_id=4000 + n)
        wait_for(lines_are(alice, ["header", "T1", "T2"][: n + 2]), f"{token} in the file")
    alice.stop(signal.SIGKILL)  # within a second of the daemon's last write
    append_line(alice, guid, "T3\n", client_id=4002)
    alice.start()
    expected = ["header", "T1", "T2", "T3"]
    wait_for(lines_are(alice, expected), "every append in the file")
    assert sorted((alice.text("d.txt") or "").splitlines()) == sorted(expected)
