"""A chunked file deleted on one device while another edits it: the edit is
concurrent with the delete and keeps the file, on both devices (as for a one-doc
text file). Written while looking for a chunked soak loss in such a file in the
seconds after a peer's delete (not this: these hold; see docs/soak.md)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from p2psync.mirror import engine
from tests.support.chunkedmirror import Device, order_of, root_of, send, synced_pair
from tests.support.mirror import peer_edit


async def deleted_by_bob(bob: Device) -> None:
    bob.path("big.txt").unlink()
    await bob.mirror.local_changes(["big.txt"])
    await trio.sleep(engine.VANISHED_HOLD_S)
    await bob.mirror.local_changes([])
    await bob.mirror.flush()
    assert "big.txt" not in bob.mirror.view.by_path


@pytest.mark.parametrize("how", ["save", "append"])
def test_an_edit_concurrent_with_a_peers_delete_keeps_a_chunked_file(
    tmp_path: Path, how: str
) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        await deleted_by_bob(bob)
        if how == "save":
            await alice.save("big.txt", text + "saved by alice\n")
        else:  # another program appends to the last chunk's log
            last = alice.store.docs[order_of(alice, "big.txt")[-1]]
            update = peer_edit(last, lambda t: t.insert(len(t), "saved by alice\n"))
            await alice.store.local_update(last.guid, update)
            await alice.mirror.remote_changed({last.guid: None})
            await alice.mirror.flush()
        await send(bob, alice)
        await send(alice, bob)
        await send(bob, alice)
        for device in (alice, bob):
            assert "saved by alice" in device.path("big.txt").read_text(), device.folder

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_an_append_to_a_chunk_after_the_delete_arrived_brings_the_file_back(
    tmp_path: Path,
) -> None:
    """Another program appends to a chunk's log after the peer's delete was carried
    out here: an edit of the deleted file's doc, which brings the file back (as an
    append to a deleted one-doc file does)."""

    async def main() -> None:
        alice, bob, _ = await synced_pair(tmp_path)
        chunks = order_of(alice, "big.txt")
        await deleted_by_bob(bob)
        await send(bob, alice)
        assert not alice.path("big.txt").exists()
        last = alice.store.docs[chunks[-1]]
        update = peer_edit(last, lambda t: t.insert(len(t), "appended by a program\n"))
        await alice.store.local_update(last.guid, update)
        await alice.mirror.remote_changed({last.guid: None})
        await alice.mirror.flush()
        await send(alice, bob)
        for device in (alice, bob):
            assert "appended by a program" in device.path("big.txt").read_text(), device.folder

    trio.run(main, clock=MockClock(autojump_threshold=0))


def test_a_chunked_file_written_again_after_a_peers_delete_stays_one_doc(
    tmp_path: Path,
) -> None:
    """Bob's delete reaches alice and removes her file; then a program writes it
    again, with a line added (its delete-then-create save, racing the delete). The
    file is the same doc again and the line reaches bob, not a second doc at the
    path (a "created on two devices" collision keeping the save aside)."""

    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        root = root_of(alice, "big.txt").guid
        await deleted_by_bob(bob)
        await send(bob, alice)
        assert not alice.path("big.txt").exists()
        await alice.save("big.txt", text + "saved again by alice\n")
        await send(alice, bob)
        await send(bob, alice)
        for device in (alice, bob):
            assert device.path("big.txt").read_text() == text + "saved again by alice\n"
            assert device.mirror.view.guid_for_path("big.txt") == root
            assert not (device.folder / ".p2psync" / "conflicts").exists(), device.folder

    trio.run(main, clock=MockClock(autojump_threshold=0))
