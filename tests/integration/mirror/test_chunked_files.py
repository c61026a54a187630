"""Large text files as chunked docs, through the mirror engine against real files.

Two mirrors (alice and bob) with in-memory doc stores; "the network" copies the docs
a test names from one store to the other, as the share's sync would.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import pycrdt
import pytest
import trio
from trio.testing import MockClock

from p2psync.mirror import chunkpaths, collisions, engine, renames
from p2psync.mirror.chunked import chunk_order
from p2psync.mirror.engine import Mirror, wall_ms
from p2psync.mirror.fileio import read_file
from p2psync.mirror.hlc import HybridClock
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import MANIFEST_GUID
from p2psync.replica.doc import DocReplica
from tests.support.chunkedmirror import (
    CHUNKING,
    Device,
    big_text,
    order_of,
    root_of,
    send,
    synced_pair,
)

YDoc = pycrdt.Doc[Any]

READERS = (engine, renames, collisions, chunkpaths)
"""The mirror's modules that read whole files (``read_file``)."""


async def race_on_first_chunk(alice: Device, bob: Device, text: str, ours: str) -> None:
    """Alice puts "A" at the start; bob saves ``ours`` before his mirror hears of it."""
    await alice.save("big.txt", "A" + text)
    first = order_of(alice, "big.txt")[0]
    held = bob.store.docs[first]
    held.apply(alice.store.docs[first].diff(held.state_vector()))
    bob.path("big.txt").write_text(ours)
    await bob.mirror.remote_changed({first: "alice"})


def test_a_large_text_file_becomes_chunks_and_syncs_byte_for_byte(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
        text = big_text()
        await alice.save("big.txt", text)
        entry = alice.mirror.view.by_path["big.txt"]
        assert entry.kind is FileKind.CHUNKED
        chunks = order_of(alice, "big.txt")
        assert len(chunks) > 10
        assert "".join(alice.store.docs[g].text() for g in chunks) == text
        await send(alice, bob)
        assert bob.path("big.txt").read_bytes() == text.encode()
        small = "a small file\n"
        await alice.save("small.txt", small)
        assert alice.mirror.view.by_path["small.txt"].kind is FileKind.TEXT

    trio.run(main)


def test_an_edit_near_the_end_touches_and_sends_only_its_chunk(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        root = root_of(alice, "big.txt")
        last = chunk_order(root.ydoc, root.guid)[-1]
        alice.store.read.clear()
        alice.store.changed.clear()
        whole_reads: list[str] = []

        def counting_read(folder: Path, rel: str) -> Any:
            whole_reads.append(rel)
            return read_file(folder, rel)

        for module in READERS:
            monkeypatch.setattr(module, "read_file", counting_read)
        edited = text[:-30] + "EDIT " + text[-30:]
        await alice.save("big.txt", edited)
        assert alice.store.changed == [last]
        assert alice.store.read <= {MANIFEST_GUID, root.guid, last}
        assert whole_reads == []  # the save was read against the layout, chunk by chunk
        bob.store.read.clear()
        assert await send(alice, bob, [last]) == {last}
        assert bob.path("big.txt").read_text() == edited
        assert bob.store.read <= {MANIFEST_GUID, root.guid, last}
        assert whole_reads == []  # written from byte ranges of the old file

    trio.run(main)


def test_appending_past_a_full_chunk_creates_its_successor(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        before = len(order_of(alice, "big.txt"))
        grown = text + "more 😀 text\n" * 100
        await alice.save("big.txt", grown)
        assert len(order_of(alice, "big.txt")) > before
        await send(alice, bob)
        assert bob.path("big.txt").read_text() == grown

    trio.run(main)


def test_concurrent_edits_near_a_chunk_boundary_merge(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        root = root_of(alice, "big.txt")
        first = chunk_order(root.ydoc, root.guid)[0]
        boundary = len(alice.store.docs[first].text())
        ours = text[: boundary - 3] + "[alice]" + text[boundary - 3 :]
        theirs = text[: boundary + 2] + "[bob]" + text[boundary + 2 :]
        await alice.save("big.txt", ours)
        await bob.save("big.txt", theirs)
        await send(alice, bob)
        await send(bob, alice)
        merged = (
            text[: boundary - 3] + "[alice]" + text[boundary - 3 : boundary + 2] + "[bob]"
        ) + text[boundary + 2 :]
        assert alice.path("big.txt").read_text() == merged
        assert bob.path("big.txt").read_text() == merged

    trio.run(main)


def test_a_save_racing_a_remote_change_of_other_chunks_merges(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        # Bob edits the start; before his mirror writes alice's edit of the end, he
        # saves again, so the file and the docs both changed since the last sync.
        await alice.save("big.txt", text + "tail from alice\n")
        alice_root = root_of(alice, "big.txt")
        changed = [g for g in chunk_order(alice_root.ydoc, alice_root.guid) if g != MANIFEST_GUID]
        for guid in changed:
            held = bob.store.docs.setdefault(guid, DocReplica(guid))
            held.apply(alice.store.docs[guid].diff(held.state_vector()))
        bob.path("big.txt").write_text("head from bob\n" + text)
        await bob.mirror.remote_changed(dict.fromkeys(changed, "alice"))
        await bob.mirror.local_changes(["big.txt"])
        expected = "head from bob\n" + text + "tail from alice\n"
        assert bob.path("big.txt").read_text() == expected
        assert not [e for e in bob.events if e[0] == "path-conflict"]

    trio.run(main)


async def race_in_the_first_chunk_merges(alice: Device, bob: Device, text: str) -> None:
    """Bob's save of a line of the first chunk races alice's insert there: both edits
    are in the file on both devices, and nothing is kept aside."""
    ours = text.replace("line 0001", "LINE 0001")
    await race_on_first_chunk(alice, bob, text, ours)
    assert bob.path("big.txt").read_text() == "A" + ours
    assert not [e for e in bob.events if e[0] == "path-conflict"]
    await send(bob, alice)
    assert alice.path("big.txt").read_text() == "A" + ours


def test_a_save_racing_a_remote_change_of_the_same_chunk_merges(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        await race_in_the_first_chunk_merges(alice, bob, text)

    trio.run(main)


def test_an_insert_before_a_chunk_a_peer_changed_still_merges(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        await race_on_first_chunk(alice, bob, text, "B" + text)
        assert bob.path("big.txt").read_text() in {"AB" + text, "BA" + text}
        assert not [e for e in bob.events if e[0] == "path-conflict"]

    trio.run(main)


def test_after_a_restart_a_remote_edit_is_written_from_the_docs(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        restarted = Mirror(bob.folder, bob.store, HybridClock(b"bob", wall_ms),
                           lambda type_, **f: None, "bob", chunking=CHUNKING)  # fmt: skip
        await restarted.rescan()
        edited = text[:-10] + "after the restart\n" + text[-10:]
        await alice.save("big.txt", edited)
        last = order_of(alice, "big.txt")[-1]
        held = bob.store.docs[last]
        held.apply(alice.store.docs[last].diff(held.state_vector()))
        await restarted.remote_changed({last: "alice"})
        assert bob.path("big.txt").read_text() == edited

    trio.run(main)


def test_deleting_a_chunked_file_deletes_it_at_the_peer(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, _ = await synced_pair(tmp_path)
        root = root_of(alice, "big.txt").guid
        alice.path("big.txt").unlink()
        await alice.mirror.local_changes(["big.txt"])
        await trio.sleep(engine.VANISHED_HOLD_S)  # virtual time: then told as deleted
        await alice.mirror.flush()
        assert await send(alice, bob, [MANIFEST_GUID]) == {MANIFEST_GUID}
        assert not bob.path("big.txt").exists()
        assert root not in bob.mirror.chunks.layouts

    trio.run(main, clock=MockClock(autojump_threshold=0))


def random_save(rng: random.Random, text: str) -> str:
    """``text`` with a few random edits: inserts, deletes and replacements anywhere,
    some spanning several chunks, some at the very start or end."""
    for _ in range(rng.randrange(1, 4)):
        start = rng.choice([0, len(text), rng.randrange(len(text) + 1)])
        stop = min(len(text), start + rng.choice([0, 0, 1, 5, 700, 3000]))
        insert = rng.choice(["", "x", "新しい 😀\n", "line\n" * rng.randrange(1, 300)])
        text = text[:start] + insert + text[stop:]
    return text


@pytest.mark.parametrize("seed_value", range(10))
def test_random_saves_keep_docs_and_both_files_equal(tmp_path: Path, seed_value: int) -> None:
    async def main() -> None:
        rng = random.Random(seed_value)
        alice, bob, text = await synced_pair(tmp_path)
        for _ in range(12):
            writer, reader = (alice, bob) if rng.random() < 0.5 else (bob, alice)
            text = random_save(rng, text)
            await writer.save("big.txt", text)
            root = root_of(writer, "big.txt")
            chunks = chunk_order(root.ydoc, root.guid)
            assert "".join(writer.store.docs[g].text() for g in chunks) == text
            await send(writer, reader)
            assert reader.path("big.txt").read_text() == text

    trio.run(main)


@pytest.mark.parametrize("seed_value", range(10))
def test_random_concurrent_saves_converge(tmp_path: Path, seed_value: int) -> None:
    async def main() -> None:
        rng = random.Random(seed_value)
        alice, bob, text = await synced_pair(tmp_path)
        for _ in range(6):
            await alice.save("big.txt", random_save(rng, text))
            await bob.save("big.txt", random_save(rng, text))
            await send(alice, bob)
            await send(bob, alice)
            await send(alice, bob)
            text = alice.path("big.txt").read_text()
            assert bob.path("big.txt").read_text() == text
            for device in (alice, bob):
                chunks = order_of(device, "big.txt")
                assert "".join(device.store.docs[g].text() for g in chunks) == text

    trio.run(main)


async def grown_pair(tmp_path: Path) -> tuple[Device, Device, str, str]:
    """Alice and bob share a one-doc ``notes.txt`` below the threshold; returns them,
    its text, and its guid."""
    alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
    text = big_text(40)
    assert len(text.encode()) < CHUNKING.file_bytes
    await alice.save("notes.txt", text)
    await send(alice, bob)
    assert bob.mirror.view.by_path["notes.txt"].kind is FileKind.TEXT
    return alice, bob, text, alice.mirror.view.guid_for_path("notes.txt")


def test_a_text_file_saved_past_the_threshold_becomes_chunked_in_place(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, text, guid = await grown_pair(tmp_path)
        tail = "appended 😀 line\n" * 200
        await alice.save("notes.txt", text + tail)
        for device in (alice, bob):
            if device is bob:
                await send(alice, bob)
            entry = device.mirror.view.by_path["notes.txt"]
            assert (entry.guid, entry.kind) == (guid, FileKind.CHUNKED)
            chunks = order_of(device, "notes.txt")
            assert chunks[0] == guid
            assert len(chunks) > 3
            assert device.store.docs[guid].text() == text  # not a character moved
            assert device.path("notes.txt").read_text() == text + tail
        assert not [e for e in alice.events + bob.events if e[0] == "path-conflict"]
        edited = "head\n" + text + tail[:-5] + "END\n"
        await bob.save("notes.txt", edited)
        await send(bob, alice)
        assert alice.path("notes.txt").read_text() == edited

    trio.run(main)


def test_a_one_doc_edit_concurrent_with_the_conversion_merges(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, text, _ = await grown_pair(tmp_path)
        tail = "appended line\n" * 200
        await alice.save("notes.txt", text + tail)
        await bob.save("notes.txt", "bob was here\n" + text)  # still one doc at bob
        await send(alice, bob)
        await send(bob, alice)
        merged = "bob was here\n" + text + tail
        assert alice.path("notes.txt").read_text() == merged
        assert bob.path("notes.txt").read_text() == merged

    trio.run(main)


def test_a_growing_save_over_an_unwritten_remote_change_merges(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, text, guid = await grown_pair(tmp_path)
        await alice.save("notes.txt", text.replace("line 0003", "LINE 0003"))
        held = bob.store.docs[guid]
        held.apply(alice.store.docs[guid].diff(held.state_vector()))
        tail = "bob's long tail\n" * 200
        bob.path("notes.txt").write_text(text + tail)  # before bob's mirror wrote alice's edit
        await bob.mirror.remote_changed({guid: "alice"})
        await bob.mirror.local_changes(["notes.txt"])
        merged = text.replace("line 0003", "LINE 0003") + tail
        assert bob.path("notes.txt").read_text() == merged
        assert bob.mirror.view.by_path["notes.txt"].kind is FileKind.CHUNKED
        await send(bob, alice)
        assert alice.path("notes.txt").read_text() == merged

    trio.run(main)


def test_a_peer_that_gets_the_chunks_before_the_manifest_writes_all_of_it(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        alice, bob, text, _ = await grown_pair(tmp_path)
        tail = "appended line\n" * 200
        await alice.save("notes.txt", text + tail)
        await send(alice, bob, [g for g in alice.store.docs if g != MANIFEST_GUID])
        assert bob.path("notes.txt").read_text() == text  # bob still sees one doc
        assert await send(alice, bob, [MANIFEST_GUID]) == {MANIFEST_GUID}
        assert bob.path("notes.txt").read_text() == text + tail

    trio.run(main)


@pytest.mark.parametrize("seed_value", range(10))
def test_random_concurrent_saves_of_a_growing_text_converge(
    tmp_path: Path, seed_value: int
) -> None:
    async def main() -> None:
        rng = random.Random(seed_value)
        alice, bob, text, guid = await grown_pair(tmp_path)
        for round_ in range(6):
            grow = "grown line\n" * 200 if round_ == 2 else ""  # past the threshold
            await alice.save("notes.txt", random_save(rng, text) + grow)
            await bob.save("notes.txt", random_save(rng, text))
            await send(alice, bob)
            await send(bob, alice)
            await send(alice, bob)
            text = alice.path("notes.txt").read_text()
            assert bob.path("notes.txt").read_text() == text
            for device in (alice, bob):
                kind = device.mirror.view.by_guid[guid].kind
                docs = order_of(device, "notes.txt") if kind is FileKind.CHUNKED else [guid]
                assert "".join(device.store.docs[g].text() for g in docs) == text
        assert alice.mirror.view.by_guid[guid].kind is FileKind.CHUNKED, "it should have grown"

    trio.run(main)


def test_a_layout_rebuilt_from_the_docs_is_checked_against_the_file(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        bob.mirror.chunks.layouts.clear()  # known to the mirror only through the docs now
        edited = text.replace("line 0001", "LINE 0001")  # the same length
        await alice.save("big.txt", edited)
        first = order_of(alice, "big.txt")[0]
        held = bob.store.docs[first]
        held.apply(alice.store.docs[first].diff(held.state_vector()))
        await bob.mirror.remote_changed({first: "alice"})
        assert bob.path("big.txt").read_text() == edited

    trio.run(main)


def test_the_event_of_the_mirrors_own_write_reads_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        edited = text[:-30] + "EDIT " + text[-30:]
        await alice.save("big.txt", edited)
        await send(alice, bob)
        assert bob.path("big.txt").read_text() == edited
        reads: list[str] = []

        def counting_read(folder: Path, rel: str) -> Any:
            reads.append(rel)
            return read_file(folder, rel)

        for module in READERS:
            monkeypatch.setattr(module, "read_file", counting_read)
        monkeypatch.setattr(chunkpaths, "scan_save", lambda *a: reads.append("scan"))
        await bob.mirror.local_changes(["big.txt"])  # the watcher's event of that write
        assert reads == []

    trio.run(main)


def test_a_save_racing_a_change_of_a_converted_roots_own_text_merges(tmp_path: Path) -> None:
    """A one-doc file saved past the threshold becomes a root whose own text is its
    first chunk: that text has a base too, so a save of it racing a peer's change of
    it merges instead of being kept aside."""

    async def main() -> None:
        alice, bob = Device(tmp_path, "alice"), Device(tmp_path, "bob")
        small = big_text(40)
        await alice.save("big.txt", small)
        await send(alice, bob)
        text = small + big_text(200)[len(small) :]
        await alice.save("big.txt", text)  # past the threshold: converted in place
        await send(alice, bob)
        assert bob.mirror.view.by_path["big.txt"].kind is FileKind.CHUNKED
        assert order_of(bob, "big.txt")[0] == root_of(bob, "big.txt").guid
        await race_in_the_first_chunk_merges(alice, bob, text)

    trio.run(main)


def test_a_chunked_file_saved_by_replacing_it_then_renamed_stays_one_doc(
    tmp_path: Path,
) -> None:
    """The new inode of the save hides the rename; the likeness of the text shows it,
    as for a one-doc text file."""

    async def main() -> None:
        alice, _, text = await synced_pair(tmp_path)
        guid = alice.mirror.view.guid_for_path("big.txt")
        tmp = alice.path("big.tmp")
        tmp.write_text(text + "saved\n")
        tmp.replace(alice.path("big.txt"))
        alice.path("big.txt").rename(alice.path("moved.txt"))
        await alice.mirror.local_changes(["big.txt", "moved.txt"])
        await trio.sleep(engine.VANISHED_HOLD_S)
        await alice.mirror.flush()
        assert alice.mirror.view.guid_for_path("moved.txt") == guid
        assert "big.txt" not in alice.mirror.view.by_path
        roots = [e for e in alice.mirror.view.by_path.values() if e.kind is FileKind.CHUNKED]
        assert [e.guid for e in roots] == [guid]
        assert alice.path("moved.txt").read_text() == text + "saved\n"

    trio.run(main, clock=MockClock(autojump_threshold=0))
