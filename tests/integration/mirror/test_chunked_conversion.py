"""A one-doc text file converted in place to a chunked file (``Mirror._outgrown_save``,
``chunkfile.ChunkedFiles.convert``) loses no edit made around the conversion.

A device that last synced the file as one doc has a merge base for it (its sync
record's one-doc state), and no layout yet. A save it takes in once the file is
chunked (made while the daemon was down, or not taken in yet when the peer's
conversion arrived, or its own save racing a peer's change) is merged against that
base: the peers' edits its file never showed stay. The soak lost every token of ten
seconds of a file this way: the save was diffed against a layout rebuilt from the
docs as they were then, whose text held those tokens and the file did not.
"""

from __future__ import annotations

from pathlib import Path

from p2psync.mirror.kinds import FileKind
from tests.support.chunkedmirror import Device, big_text, order_of, restart, root_of, send
from tests.support.mirror import Store, peer_edit

REL = "notes.txt"
SMALL = big_text(40)
"""Below ``CHUNKING.file_bytes``: a one-doc text file."""
GROWN = SMALL + "".join(f"grown by alice {n:04}\n" for n in range(150))
"""Past it: saving this converts the file."""


async def converted_by_alice(tmp_path: Path) -> tuple[Device, Device]:
    """Alice and bob synced ``SMALL`` as a one-doc file; then alice saved ``GROWN``,
    converting it; bob's docs have not heard of that yet."""
    alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
    await alice.save(REL, SMALL)
    await send(alice, bob)
    assert bob.path(REL).read_text() == SMALL
    await alice.save(REL, GROWN)
    assert alice.mirror.view.by_path[REL].kind is FileKind.CHUNKED
    return alice, bob


def copy_docs(source: Device, target: Device) -> None:
    """What ``target`` lacks of ``source``'s docs, stored without telling its mirror
    (its daemon is down, or has not taken the batch yet)."""
    for guid, doc in source.store.docs.items():
        held = target.store.docs.get(guid)
        if held is None:
            target.store.docs[guid] = held = type(doc)(guid)
        held.apply(doc.diff(held.state_vector()))


async def test_a_save_made_while_down_merges_with_a_peers_conversion_of_the_file(
    tmp_path: Path,
) -> None:
    """The soak's loss: bob, down, saves the small file; alice's growth and conversion
    are stored before his restart takes the save in."""
    alice, bob = await converted_by_alice(tmp_path)
    copy_docs(alice, bob)
    saved = SMALL.replace("line 0003", "line 0003 edited by bob")
    bob.path(REL).write_text(saved)
    await restart(bob).rescan()
    await bob.mirror.flush()
    on_disk = bob.path(REL).read_text()
    assert "line 0003 edited by bob" in on_disk
    assert on_disk == GROWN.replace("line 0003", "line 0003 edited by bob")
    await send(bob, alice)
    assert alice.path(REL).read_text() == on_disk


async def save_not_taken_in_yet(tmp_path: Path) -> str:
    """Bob's save is on disk, its batch not taken, when alice's conversion arrives:
    the kind change makes the mirror look at the file, and it is a save. Returns the
    file both end with."""
    alice, bob = await converted_by_alice(tmp_path)
    saved = SMALL + "saved by bob\n"
    bob.path(REL).write_text(saved)
    await send(alice, bob)
    await bob.mirror.local_changes([REL])
    await bob.mirror.flush()
    on_disk = bob.path(REL).read_text()
    assert bob.mirror.view.by_path[REL].kind is FileKind.CHUNKED
    await send(bob, alice)
    assert alice.path(REL).read_text() == on_disk
    return on_disk


async def test_a_save_not_taken_in_yet_merges_with_a_peers_conversion_of_the_file(
    tmp_path: Path,
) -> None:
    """Nothing of either side is lost or doubled: every character of alice's growth
    and of bob's line is in the file once."""
    on_disk = await save_not_taken_in_yet(tmp_path)
    assert on_disk.count("saved by bob") == 1
    assert sorted(on_disk) == sorted(GROWN + "saved by bob\n")


async def test_a_save_not_taken_in_yet_keeps_every_line_whole(tmp_path: Path) -> None:
    """Bob's line lands before or after alice's growth, never inside one of her
    lines: the chunk her growth filled was closed at a line's end. (Which of the
    two places depends on the scratch client's random ID; before chunks were closed
    at lines, one run in three split a line.)"""
    on_disk = await save_not_taken_in_yet(tmp_path)
    assert on_disk.count("saved by bob\n") == 1
    assert all(on_disk.count(line) == 1 for line in GROWN.splitlines(keepends=True))


class RacingStore(Store):
    """A store where a peer's edit of one doc arrives while the mirror stores an
    update of it (the sync task runs while the mirror awaits the log)."""

    def __init__(self) -> None:
        super().__init__()
        self.arriving: dict[str, bytes] = {}

    async def local_update(self, guid: str, update: bytes, *, notify: bool = True) -> None:
        await super().local_update(guid, update, notify=notify)
        if (peer := self.arriving.pop(guid, None)) is not None:
            self.docs[guid].apply(peer)


async def test_a_peer_edit_stored_while_the_file_is_converted_survives_the_save(
    tmp_path: Path,
) -> None:
    """Alice saves the file past the threshold; bob's edit of it is stored while her
    mirror stores the conversion: her save, taken in after, must not delete it."""
    racing = RacingStore()
    alice, bob = Device(tmp_path, "alice", store=racing), Device(tmp_path, "bob")
    await alice.save(REL, SMALL)
    await send(alice, bob)
    root = root_of(alice, REL)
    racing.arriving[root.guid] = peer_edit(root, lambda t: t.insert(0, "from bob\n"))
    await alice.save(REL, GROWN)
    assert order_of(alice, REL)[0] == root.guid
    on_disk = alice.path(REL).read_text()
    assert on_disk == "from bob\n" + GROWN
