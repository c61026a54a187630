"""A path created on two devices, settled when the two docs arrive in either order.

The mirror engine runs in this process with its docs in memory (``Store``); what a
peer sends (its manifest entries, their docs) is put in the store directly, in the
order a link may deliver it: an entry before its doc.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pycrdt
import trio
from trio.testing import MockClock

from p2psync.mirror import engine
from p2psync.mirror.conflicts import list_copies
from p2psync.mirror.content import short_device
from p2psync.mirror.engine import Mirror, wall_ms
from p2psync.mirror.hlc import Timestamp
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import MANIFEST_GUID, Entry, new_file_guid, put_entry, set_fields
from p2psync.mirror.store import YDoc
from tests.support.mirror import Store, make_mirror

PEER = b"peer-device"


def copies(root: Path) -> list[tuple[str, str, bytes]]:
    """The copies kept in ``root``: (why, whose, bytes)."""
    folder = root / ".p2psync" / "conflicts"
    return [(c.why, c.device, (folder / c.copy).read_bytes()) for c in list_copies(root)]


async def take_in(mirror: Mirror, root: Path, rel: str, text: str) -> str:
    """A file made here and taken in; its doc's guid."""
    (root / rel).write_text(text)
    await mirror.rescan()
    guid = mirror.view.guid_for_path(rel)
    assert guid is not None
    return guid


async def peer_entry(store: Store, mirror: Mirror, rel: str, created_ms: int) -> Entry:
    """A peer's entry for ``rel`` arrives, before the doc it names."""
    entry = Entry(new_file_guid(), rel, FileKind.TEXT, Timestamp(created_ms, 0, PEER))
    await store.local_edit(MANIFEST_GUID, lambda d: put_entry(d, entry))
    await mirror.remote_changed({MANIFEST_GUID: "peer"})
    return entry


async def peer_doc(store: Store, mirror: Mirror, guid: str, text: str) -> None:
    """The doc of a peer's entry arrives."""
    await store.local_edit(guid, lambda d: d.get("content", type=pycrdt.Text).insert(0, text))
    await mirror.remote_changed({guid: "peer"})


async def peer_retires(store: Store, mirror: Mirror, mine: str, theirs: Entry) -> None:
    """The peer's entry ``theirs`` arrives with this device's ``mine`` retired by the
    peer as its loser, before the doc ``theirs`` names."""
    state = store.docs[mine].state_vector()

    def peer_settles(doc: YDoc) -> None:
        put_entry(doc, theirs)
        set_fields(doc, mine, deleted=True, deleted_at=state, superseded_by=theirs.guid)

    await store.local_edit(MANIFEST_GUID, peer_settles)
    await mirror.remote_changed({MANIFEST_GUID: "peer"})


async def collided(root: Path) -> tuple[Mirror, str, Entry]:
    """A mirror whose "same.md" (this device's doc, returned first) lost its path to a
    peer's earlier entry of the same path, whose doc then came: the pair settled."""
    mirror, store, _ = make_mirror(root)
    mine = await take_in(mirror, root, "same.md", "mine\n")
    theirs = await peer_entry(store, mirror, "same.md", 1)
    await peer_doc(store, mirror, theirs.guid, "theirs\n")
    assert mirror.view.by_guid[mine].superseded_by == theirs.guid
    return mirror, mine, theirs


def test_a_losers_entry_without_its_doc_is_retired_once_the_doc_arrives(tmp_path: Path) -> None:
    """A device held a loser's entry but not its doc and retired it as of no state;
    the devices holding its content read that content as an edit made after the
    retirement, brought the entry back and kept its text aside again, once per
    round (a tray test saw two copies of one file)."""

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        mine = await take_in(mirror, tmp_path, "same.md", "mine\n")
        theirs = await peer_entry(store, mirror, "same.md", wall_ms() + 60_000)
        assert not mirror.view.by_guid[theirs.guid].deleted  # nothing to judge it by yet
        assert copies(tmp_path) == []
        await peer_doc(store, mirror, theirs.guid, "theirs\n")
        retired = mirror.view.by_guid[theirs.guid]
        assert retired.deleted
        assert retired.superseded_by == mine
        assert retired.deleted_at == store.docs[theirs.guid].state_vector()
        assert copies(tmp_path) == [("collision", short_device(PEER), b"theirs\n")]
        assert (tmp_path / "same.md").read_text() == "mine\n"

    trio.run(main)


def test_a_winners_doc_arriving_after_its_entry_settles_the_path_first(tmp_path: Path) -> None:
    """This device's file lost its path to a peer's earlier entry whose doc came
    later: the pair is settled when it comes (one copy, of why it was kept), before
    the winner is written over the file."""

    async def main() -> None:
        mirror, _, _ = await collided(tmp_path)
        assert (tmp_path / "same.md").read_text() == "theirs\n"
        assert copies(tmp_path) == [("collision", short_device(mirror.clock.device), b"mine\n")]
        await mirror.rescan()
        assert len(copies(tmp_path)) == 1

    trio.run(main)


def test_a_file_retired_by_a_peer_before_the_winner_arrived_is_kept_as_a_collision(
    tmp_path: Path,
) -> None:
    """The peer settled the path first: this device's entry arrives retired, naming
    a winner whose doc comes later. This device's file is kept aside once, as the
    loser of a collision (it was kept as a save that could not be merged)."""

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        mine = await take_in(mirror, tmp_path, "same.md", "mine\n")
        theirs = Entry(new_file_guid(), "same.md", FileKind.TEXT, Timestamp(1, 0, PEER))
        await peer_retires(store, mirror, mine, theirs)
        await peer_doc(store, mirror, theirs.guid, "theirs\n")
        assert (tmp_path / "same.md").read_text() == "theirs\n"
        assert copies(tmp_path) == [("collision", short_device(mirror.clock.device), b"mine\n")]
        await mirror.rescan()
        assert len(copies(tmp_path)) == 1
        assert mirror.view.by_guid[mine].deleted  # stays retired

    trio.run(main)


def test_a_file_made_again_where_a_collisions_winner_was_deleted_is_the_winners_doc(
    tmp_path: Path,
) -> None:
    """The path's file was the winner's: once it is deleted, a file made there again
    is that doc once more (delete-then-create), never the loser's, whose entry stays
    retired and whose text stays in its copy."""

    async def main() -> None:
        mirror, mine, theirs = await collided(tmp_path)
        (tmp_path / "same.md").unlink()
        await mirror.local_changes(["same.md"])
        await trio.sleep(engine.VANISHED_HOLD_S)
        await mirror.flush()
        assert mirror.view.by_guid[theirs.guid].deleted
        assert mirror.view.guid_for_path("same.md") == theirs.guid
        (tmp_path / "same.md").write_text("theirs\nagain\n")
        await mirror.rescan()
        assert mirror.view.guid_for_path("same.md") == theirs.guid
        assert not mirror.view.by_guid[theirs.guid].deleted
        assert mirror.view.by_guid[mine].deleted
        assert copies(tmp_path) == [("collision", short_device(mirror.clock.device), b"mine\n")]

    trio.run(main, clock=MockClock(autojump_threshold=0))


async def taken_in_twice_then_renamed(root: Path, theirs_text: str) -> tuple[Mirror, str, Entry]:
    """This device took "notes.txt" in as its own doc (its folder taken in again, its
    ``.p2psync`` lost), then found it renamed "renamed.txt" at a start, before it
    heard of the peer's earlier entry of "notes.txt", whose doc (``theirs_text``)
    then came."""
    mirror, store, _ = make_mirror(root)
    mine = await take_in(mirror, root, "notes.txt", "one\ntwo\nthree\n")
    (root / "notes.txt").rename(root / "renamed.txt")
    await mirror.rescan()
    theirs = await peer_entry(store, mirror, "notes.txt", 1)
    await peer_doc(store, mirror, theirs.guid, theirs_text)
    return mirror, mine, theirs


def test_a_file_taken_in_twice_and_renamed_here_is_the_peers_file_renamed(
    tmp_path: Path,
) -> None:
    """The earlier entry takes the new path (the move reaches the peer as its
    rename), this device's copy is retired, and the old path is not written again;
    the peer's edit made meanwhile is in the renamed file."""

    async def main() -> None:
        mirror, mine, theirs = await taken_in_twice_then_renamed(
            tmp_path, "one\ntwo\nthree\nfour\n"
        )
        assert not (tmp_path / "notes.txt").exists()
        assert (tmp_path / "renamed.txt").read_text() == "one\ntwo\nthree\nfour\n"
        assert mirror.view.by_path["renamed.txt"] == replace(
            theirs, path="renamed.txt", born="notes.txt"
        )
        assert "notes.txt" not in mirror.view.by_path
        assert mirror.view.by_guid[mine].superseded_by == theirs.guid
        assert mirror.synced["renamed.txt"].guid == theirs.guid

    trio.run(main)


def test_an_unrelated_file_at_the_path_a_renamed_file_was_created_at_stays(
    tmp_path: Path,
) -> None:
    """The peer's file at the path this device's renamed one was created at is not
    alike it: two files, both kept where they are."""

    async def main() -> None:
        mirror, mine, theirs = await taken_in_twice_then_renamed(tmp_path, "other\ntext\n")
        assert (tmp_path / "notes.txt").read_text() == "other\ntext\n"
        assert (tmp_path / "renamed.txt").read_text() == "one\ntwo\nthree\n"
        assert mirror.view.by_path["renamed.txt"].guid == mine
        assert mirror.view.by_path["notes.txt"].guid == theirs.guid

    trio.run(main)


def test_a_twin_the_peer_settled_first_keeps_no_copy_of_lines_the_file_has(
    tmp_path: Path,
) -> None:
    """The peer settled the twins (its entry took this device's new path, this
    device's copy retired): the copy, all of whose lines the peer's file holds, is
    not kept aside; the file is the peer's."""

    async def main() -> None:
        mirror, store, _ = make_mirror(tmp_path)
        mine = await take_in(mirror, tmp_path, "notes.txt", "one\ntwo\nthree\n")
        (tmp_path / "notes.txt").rename(tmp_path / "renamed.txt")
        await mirror.rescan()
        theirs = Entry(
            new_file_guid(), "renamed.txt", FileKind.TEXT, Timestamp(1, 0, PEER), born="notes.txt"
        )
        await peer_retires(store, mirror, mine, theirs)
        await peer_doc(store, mirror, theirs.guid, "one\ntwo\nthree\nfour\n")
        assert (tmp_path / "renamed.txt").read_text() == "one\ntwo\nthree\nfour\n"
        assert not (tmp_path / "notes.txt").exists()
        assert copies(tmp_path) == []

    trio.run(main)
