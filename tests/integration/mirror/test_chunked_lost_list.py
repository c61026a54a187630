"""A chunked file's root that lost its chunk list (its log stored as the file's export,
as a compaction did for a while: ``mirror.chunklist``) is damage, not an edit: the
file is never written from it (it read as empty) and a save of it is never taken into
it (that crashed the share's mirror). The list is rebuilt from the file's last synced
layout when its chunks are here; else the file is reported until a peer sends the
list. A file emptied by a save or by a peer keeps its chunks, and syncs."""

from __future__ import annotations

from pathlib import Path

from p2psync.mirror.chunked import CONTENT
from p2psync.mirror.chunkexport import chunked_export
from p2psync.mirror.chunklist import LOST_REASON
from p2psync.replica.doc import DocReplica
from tests.support.chunkedmirror import Device, order_of, restart, root_of, send, synced_pair
from tests.support.mirror import peer_edit

REL = "big.txt"
MORE = "a line saved at the end\n"


def damage(device: Device) -> None:
    """Replace the device's root of ``REL`` by the file's export, as a root log the old
    compaction wrote held it: the whole text as one text doc, no chunk list."""
    root = root_of(device, REL)
    chunk = device.store.docs
    export = chunked_export(root.ydoc, root.guid, lambda guid: chunk[guid].text(CONTENT))
    damaged = DocReplica(root.guid)
    damaged.apply(export)
    device.store.docs[root.guid] = damaged


async def restarted(device: Device) -> None:
    """A new mirror on the device's folder and docs, and its first scan."""
    await restart(device).rescan()
    await device.mirror.flush()


def lost(device: Device) -> list[dict[str, str]]:
    return [p for p in device.mirror.problems.listing() if p["kind"] == "chunk-list-lost"]


async def test_an_emptied_chunked_file_keeps_its_chunks_and_syncs(tmp_path: Path) -> None:
    alice, bob, _ = await synced_pair(tmp_path)
    chunks = order_of(alice, REL)
    await alice.save(REL, "")  # truncated here
    assert order_of(alice, REL) == chunks
    await send(alice, bob)
    assert bob.path(REL).read_text() == ""
    await alice.save(REL, "written again\n")
    await send(alice, bob)
    assert bob.path(REL).read_text() == "written again\n"
    for guid in order_of(bob, REL):  # a peer deletes all of its text
        doc = bob.store.docs[guid]
        doc.apply(peer_edit(doc, lambda text: text.__delitem__(slice(0, len(text)))))
    await bob.mirror.remote_changed(dict.fromkeys(order_of(bob, REL), "peer"))
    await bob.mirror.flush()
    assert bob.path(REL).read_text() == ""
    assert order_of(bob, REL) == chunks
    assert not lost(alice)
    assert not lost(bob)


async def test_a_root_that_lost_its_list_is_listed_again_from_the_files_layout(
    tmp_path: Path,
) -> None:
    alice, bob, text = await synced_pair(tmp_path)
    chunks = order_of(bob, REL)
    damage(bob)
    assert order_of(bob, REL) == []
    await restarted(bob)
    assert bob.path(REL).read_text() == text  # not emptied
    assert order_of(bob, REL) == chunks
    assert root_of(bob, REL).guid in bob.store.changed  # a local edit: peers get it
    assert not lost(bob)

    await bob.save(REL, text + MORE)  # merged, not a crash
    assert bob.path(REL).read_text() == text + MORE
    await send(bob, alice)
    assert order_of(alice, REL)[: len(chunks)] == chunks
    assert alice.path(REL).read_text() == text + MORE


async def test_a_root_that_cannot_be_listed_again_leaves_its_file_and_is_reported(
    tmp_path: Path,
) -> None:
    alice, bob, text = await synced_pair(tmp_path)
    missing = order_of(bob, REL)[3]
    damage(bob)
    del bob.store.docs[missing]  # a chunk not here: the list is not rebuilt
    await restarted(bob)
    assert bob.path(REL).read_text() == text
    [problem] = lost(bob)
    assert problem == {"path": REL, "kind": "chunk-list-lost", "reason": LOST_REASON}
    assert [type_ for type_, _ in bob.events] == ["chunk-list-lost"]

    bob.path(REL).write_text(text + MORE)  # saved meanwhile: not taken in, no crash
    await bob.mirror.local_changes([REL])
    await bob.mirror.flush()
    assert bob.path(REL).read_text() == text + MORE
    assert lost(bob)

    await send(alice, bob)  # a peer that kept the list sends it: the save merges
    assert not lost(bob)
    assert bob.path(REL).read_text() == text + MORE
    await send(bob, alice)
    assert alice.path(REL).read_text() == text + MORE
