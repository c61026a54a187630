"""A device that lost its persisted index (``.p2psync/index.bin`` deleted or
unreadable: every log is read again; or the whole ``.p2psync/`` deleted and made
again: the folder is taken in afresh, every file a new doc), under a new index ID
whose sequence starts again from 1, then a path both devices create while apart: the
device that was away must get the doc that won the path, across real daemons and
their restarts (it kept the old index's sequence for the new one and never heard of
the doc, while the other counted one file to send forever)."""

from __future__ import annotations

import shutil
from typing import Any

import pytest

from tests.support.daemons import Device, wait_for
from tests.support.mirror import holds
from tests.support.probes import share_status, synced_file, wait_saved

WINNER = "made first, on bob\n"
LOSER = "made a moment later, on alice\n"


def port(device: Device) -> int:
    return int(device.address.rsplit(":", 1)[1])


def in_sync(device: Device, other: Device) -> bool:
    """Whether ``device`` says its share is in sync with a connected ``other``."""
    share: dict[str, Any] = share_status(device)
    member: dict[str, Any] = next((m for m in share["members"] if m["device_id"] == other.id), {})
    return bool(share["in_sync"]) and member.get("state") == "in-sync"


def lose_index(device: Device, what: str) -> None:
    """The index of ``device``'s share (its daemon stopped) is lost: ``index.bin``
    alone, or the whole ``.p2psync/`` (made again empty, as a user who deleted it
    would to start the share again)."""
    folder = device.folder / ".p2psync"
    if what == "index.bin":
        (folder / "index.bin").unlink()
    else:
        shutil.rmtree(folder)
        folder.mkdir()


@pytest.mark.parametrize("what", ["index.bin", ".p2psync"])
def test_a_peer_that_lost_its_index_still_sends_what_it_makes_later(
    linked_pair: tuple[Device, Device], what: str
) -> None:
    alice, bob = linked_pair
    for number in range(30):  # bob's index climbs well past what a new one starts at
        synced_file([bob, alice], "notes.md", f"edit {number}\n")
    wait_for(lambda: in_sync(alice, bob) and in_sync(bob, alice), "the pair in sync")

    bob.stop()
    lose_index(bob, what)
    bob.start(port(bob))
    wait_for(lambda: in_sync(alice, bob) and in_sync(bob, alice), "bob's new index taken", 60)

    alice.stop()
    (bob.folder / "same.md").write_text(WINNER)
    wait_saved(bob, "same.md", WINNER)
    (alice.folder / "same.md").write_text(LOSER)
    alice.start(port(alice))

    for device in (alice, bob):
        wait_for(holds(device.folder / "same.md", WINNER.encode()),
                 f"the winner's text at {device.home.name}")  # fmt: skip
    wait_for(lambda: in_sync(alice, bob) and in_sync(bob, alice), "the pair in sync again")
