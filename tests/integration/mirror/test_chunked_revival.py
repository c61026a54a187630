"""A chunked file deleted on one device while edited on another comes back, through
two mirror engines against real files (``mirror.revival``; stores and "the network"
as in ``test_chunked_files``)."""

from __future__ import annotations

from pathlib import Path

import pycrdt
import trio
from trio.testing import MockClock

from p2psync.mirror.manifest import MANIFEST_GUID
from p2psync.replica.doc import DocReplica
from tests.support.chunkedmirror import delete, exchange, order_of, send, synced_pair


def test_an_edit_of_a_chunked_file_concurrent_with_its_delete_brings_it_back(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        last = order_of(bob, "big.txt")[-1]
        await delete(alice, "big.txt")
        edited = text[:-20] + "bob's edit\n" + text[-20:]
        await bob.save("big.txt", edited)
        assert bob.store.changed[-1] == last  # the edit went to a chunk, not the root
        assert await send(alice, bob, [MANIFEST_GUID]) == {MANIFEST_GUID}
        assert bob.path("big.txt").read_text() == edited  # bob's file is never removed
        await exchange(alice, bob)
        for device in (alice, bob):
            assert device.path("big.txt").read_text() == edited, device.folder
            assert not device.mirror.view.by_path["big.txt"].deleted

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_a_chunk_edit_arriving_after_the_delete_revives_it_on_the_deleting_device(
    tmp_path: Path,
) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        await delete(alice, "big.txt")
        edited = "bob's new first line\n" + text
        await bob.save("big.txt", edited)
        first = order_of(bob, "big.txt")[0]
        assert await send(bob, alice, [first]) == {first}  # the chunk only, not the root
        assert alice.path("big.txt").read_text() == edited
        await exchange(alice, bob)
        assert bob.path("big.txt").read_text() == edited

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_a_plain_delete_of_a_chunked_file_still_deletes_it_on_both(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, _ = await synced_pair(tmp_path)
        await delete(bob, "big.txt")
        await exchange(alice, bob)
        for device in (alice, bob):
            assert not device.path("big.txt").exists()
            assert "big.txt" not in device.mirror.view.by_path
        assert MANIFEST_GUID in alice.store.docs

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_a_deleted_chunked_file_stays_deleted_across_manifest_changes(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, _ = await synced_pair(tmp_path)
        chunks = set(order_of(bob, "big.txt"))
        await delete(alice, "big.txt")
        await exchange(alice, bob)
        assert chunks <= bob.store.read  # the new deletion was compared chunk by chunk
        bob.store.read.clear()
        await alice.save("other.txt", "another file\n")
        await exchange(alice, bob)
        for device in (alice, bob):
            assert not device.path("big.txt").exists()
            assert device.path("other.txt").read_text() == "another file\n"
        assert not chunks & bob.store.read  # not again on an unrelated manifest change

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_a_chunk_edit_arriving_long_after_the_delete_still_revives_it(tmp_path: Path) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        first = order_of(bob, "big.txt")[0]
        carol = DocReplica(first)  # a third device holding the file, offline
        carol.apply(bob.store.docs[first].full_state())
        await delete(alice, "big.txt")
        await exchange(alice, bob)
        await bob.save("other.txt", "another file\n")  # alice checks the deletion now
        await exchange(alice, bob)
        assert not bob.path("big.txt").exists()
        carol.local_edit(lambda d: d.get("content", type=pycrdt.Text).insert(0, "carol: "))
        held = alice.store.docs[first]
        held.apply(carol.diff(held.state_vector()))
        await alice.mirror.remote_changed({first: "carol"})
        await alice.mirror.flush()
        await exchange(alice, bob)
        for device in (alice, bob):
            assert device.path("big.txt").read_text() == "carol: " + text

    trio.run(main, clock=MockClock(autojump_threshold=0))
