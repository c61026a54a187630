"""Restarts of a mirror holding a chunked file: what the chunks' docs gained while the
daemon was down (another program's append, a peer's update stored just before a
kill) is never read back as a save that deleted it.

A "restart" is a new ``Mirror`` over the same folder and the same durable docs,
without the old one's ``flush``, as after ``kill -9``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from p2psync.mirror import chunkpaths, patch
from p2psync.replica.doc import DocReplica
from tests.support.chunkedmirror import Device, order_of, restart, send, synced_pair
from tests.support.mirror import peer_edit

REL = "big.txt"


async def restarted(device: Device) -> str:
    """Restart the device's mirror (``test_patch_recovery.restart``), let its first
    rescan run, and return the file as it then is."""
    await restart(device).rescan()
    await device.mirror.flush()
    return device.path(REL).read_text()


def append_to(doc: DocReplica, text: str) -> None:
    """A change of a chunk's doc the file does not hold yet: at the chunk's end."""
    doc.apply(peer_edit(doc, lambda t: t.insert(len(t), text)))


def middle_chunk(device: Device) -> DocReplica:
    order = order_of(device, REL)
    return device.store.docs[order[len(order) // 2]]


async def test_a_chunk_change_stored_before_a_kill_reaches_the_file_after_restart(
    tmp_path: Path,
) -> None:
    alice, bob, text = await synced_pair(tmp_path)
    append_to(middle_chunk(bob), "stored just before the kill\n")
    on_disk = await restarted(bob)
    assert "stored just before the kill\n" in on_disk
    assert len(on_disk) == len(text) + len("stored just before the kill\n")
    await send(bob, alice)
    assert alice.path(REL).read_text() == on_disk


async def test_a_save_made_while_down_merges_with_a_chunk_change_made_while_down(
    tmp_path: Path,
) -> None:
    alice, bob, text = await synced_pair(tmp_path)
    append_to(middle_chunk(bob), "appended while down\n")
    saved = text.replace("line 0003", "line 0003 edited by hand")
    saved += "a line saved at the end\n"
    bob.path(REL).write_text(saved)
    on_disk = await restarted(bob)
    assert "appended while down\n" in on_disk
    assert "line 0003 edited by hand" in on_disk
    assert on_disk.endswith("a line saved at the end\n")
    assert len(on_disk) == len(saved) + len("appended while down\n")
    await send(bob, alice)
    assert alice.path(REL).read_text() == on_disk


async def test_a_save_while_down_in_the_chunk_that_changed_while_down_merges(
    tmp_path: Path,
) -> None:
    alice, bob, text = await synced_pair(tmp_path)
    chunk = middle_chunk(bob)
    line = chunk.text().splitlines(keepends=True)[0]
    append_to(chunk, "appended to the chunk\n")
    saved = text.replace(line, line + "saved into the same chunk\n")
    bob.path(REL).write_text(saved)
    on_disk = await restarted(bob)
    assert on_disk.count("appended to the chunk\n") == 1
    assert on_disk.count("saved into the same chunk\n") == 1
    assert len(on_disk) == len(saved) + len("appended to the chunk\n")
    await send(bob, alice)
    assert alice.path(REL).read_text() == on_disk


class CrashError(Exception):
    """The daemon died here."""


async def written_then_killed(
    device: Device, doc: DocReplica, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The mirror writes the change of chunk ``doc`` to the file and the daemon dies
    right after the write, before the file's sync record is committed."""
    real = patch.write_chunked

    def write_chunked(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise CrashError

    monkeypatch.setattr(chunkpaths, "write_chunked", write_chunked)
    try:
        await device.mirror.remote_changed({doc.guid: "peer"})
    except* CrashError:
        pass
    monkeypatch.undo()


async def test_a_kill_after_a_rewrite_of_a_chunked_file_is_not_read_as_a_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rewrite's record is written ahead of its rename: after a kill between the
    rename and the record's commit, the file is known as the daemon's own write, so
    what it wrote is not merged in a second time."""
    _, bob, text = await synced_pair(tmp_path)
    first = bob.store.docs[order_of(bob, REL)[0]]  # a change at the start: a rewrite
    first.apply(peer_edit(first, lambda t: t.insert(0, "from a peer\n")))
    await written_then_killed(bob, first, monkeypatch)
    assert bob.path(REL).read_text() == "from a peer\n" + text
    append_to(middle_chunk(bob), "appended while down\n")
    on_disk = await restarted(bob)
    assert on_disk.count("from a peer\n") == 1
    assert on_disk.count("appended while down\n") == 1
    assert len(on_disk) == len(text) + len("from a peer\nappended while down\n")


async def test_a_kill_after_a_patch_of_a_chunked_file_is_not_read_as_a_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A patch in place (a change near the end) drops its own record once the file is
    fsynced, so its sync record is written ahead of it too, as a rewrite's is: after a
    kill between the patch and the record's commit, what it wrote is not merged in a
    second time (a restore near the end read back so held its insertion twice)."""
    _, bob, text = await synced_pair(tmp_path)
    last = bob.store.docs[order_of(bob, REL)[-1]]  # a change at the end: a patch
    last.apply(peer_edit(last, lambda t: t.insert(len(t), "from a peer\n")))
    inode = bob.path(REL).stat().st_ino
    await written_then_killed(bob, last, monkeypatch)
    assert bob.path(REL).stat().st_ino == inode  # patched in place, not rewritten
    assert bob.path(REL).read_text() == text + "from a peer\n"
    assert patch.load_records(bob.folder) == {}  # the patch finished: its record dropped
    on_disk = await restarted(bob)
    assert on_disk == text + "from a peer\n"
