"""A remote change near the end of a chunked file patches it in place, through the
mirror engine against real files; a patch cut short at each of its steps (the
process dies: simulated by an error raised at that step, then a new mirror on the
same folder and docs) is recovered at the next start to exactly the doc, with no
local edit and no conflict copy; a save racing the patch is merged, not lost."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest
import trio
from trio.testing import MockClock

from p2psync.mirror import patch
from p2psync.mirror.engine import VANISHED_HOLD_S
from p2psync.mirror.patch import PatchRecord, load_records
from p2psync.storage.layout import marker_dir
from tests.support.chunkedmirror import Device, order_of, restart, send, synced_pair

REL = "big.txt"


class CrashError(Exception):
    """The daemon dies here."""


def near_the_end(text: str, insert: str = "[a peer's edit]") -> str:
    return text[:-30] + insert + text[-30:]


def forbid_prefix_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    """A patch must find the hash state at its offset known: reading the prefix fails."""

    def no_prefix_read(*args: object) -> None:
        raise AssertionError("the hash states at the chunk boundaries were known")

    monkeypatch.setattr(patch, "_digest_prefix", no_prefix_read)


def doc_states(device: Device) -> dict[str, bytes]:
    return {guid: doc.state_vector() for guid, doc in device.store.docs.items()}


async def crashed_patch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: Callable[[int, PatchRecord, bytes], None]
) -> tuple[Device, Device, str]:
    """Alice edits near the end; bob's mirror dies in its patch where ``step`` (given
    the file's descriptor, the record and the tail to write) raises."""
    alice, bob, text = await synced_pair(tmp_path)
    edited = near_the_end(text)
    await alice.save(REL, edited)
    last = order_of(alice, REL)[-1]

    def dying(root: Path, rel: str, fd: int, record: PatchRecord, tail: bytes) -> None:
        step(fd, record, tail)

    monkeypatch.setattr(patch, "_overwrite", dying)
    with pytest.raises(CrashError):
        await send(alice, bob, [last])
    monkeypatch.undo()
    assert list(load_records(bob.folder)) == [REL]
    return alice, bob, edited


def nothing_written(fd: int, record: PatchRecord, tail: bytes) -> None:
    raise CrashError


def half_written(fd: int, record: PatchRecord, tail: bytes) -> None:
    os.pwrite(fd, tail[: len(tail) // 2], record.offset)
    raise CrashError


def garbage_in_the_tail(fd: int, record: PatchRecord, tail: bytes) -> None:
    os.ftruncate(fd, record.offset + 7)
    os.pwrite(fd, b"\xff\x00garbage", record.offset + 3)
    raise CrashError


def cut_mid_text(fd: int, record: PatchRecord, tail: bytes) -> None:
    os.pwrite(fd, b"torn", record.offset)
    os.ftruncate(fd, record.offset + 4)  # still text: would read as a save
    raise CrashError


def all_written(fd: int, record: PatchRecord, tail: bytes) -> None:
    os.pwrite(fd, tail, record.offset)
    os.ftruncate(fd, record.size)
    raise CrashError  # before the record is removed


@pytest.mark.parametrize(
    "step", [nothing_written, half_written, garbage_in_the_tail, cut_mid_text, all_written]
)
def test_a_patch_cut_short_is_recovered_to_the_doc_at_the_next_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, step: Callable[[int, PatchRecord, bytes], None]
) -> None:
    async def main() -> None:
        _, bob, edited = await crashed_patch(tmp_path, monkeypatch, step)
        before = doc_states(bob)
        mirror = restart(bob)
        await mirror.rescan()
        await mirror.flush()
        assert bob.path(REL).read_text() == edited
        assert "".join(bob.store.docs[g].text() for g in order_of(bob, REL)) == (edited)
        assert bob.store.changed == []  # no local edit made of the torn bytes
        assert doc_states(bob) == before
        assert not (marker_dir(bob.folder) / "conflicts").exists()
        assert [t for t, _ in bob.events if t in ("path-conflict", "file-merged")] == []
        assert load_records(bob.folder) == {}
        assert mirror.patching == {}

    trio.run(main)


def test_without_its_record_a_torn_file_would_be_read_as_a_local_save(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the record prevents: the same torn file, its record lost, becomes edits."""

    async def main() -> None:
        _, bob, edited = await crashed_patch(tmp_path, monkeypatch, cut_mid_text)
        patch.remove_record(bob.folder, REL)
        mirror = restart(bob)
        await mirror.rescan()
        assert bob.store.changed != []
        assert bob.path(REL).read_bytes() != edited.encode()

    trio.run(main)


def test_a_finished_patch_left_with_its_record_is_not_written_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        _, bob, edited = await crashed_patch(tmp_path, monkeypatch, all_written)
        ino = bob.path(REL).stat().st_ino
        mirror = restart(bob)
        await mirror.rescan()
        assert bob.path(REL).read_text() == edited
        assert bob.path(REL).stat().st_ino == ino
        assert bob.store.changed == []

    trio.run(main)


def test_a_remote_edit_near_the_end_patches_the_file_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        ino = bob.path(REL).stat().st_ino
        forbid_prefix_reads(monkeypatch)
        for n in range(4):
            if n == 2:  # a restart: its first rescan learns the hash states again
                await restart(bob).rescan()
            text = near_the_end(text, f"[edit {n}]")
            await alice.save(REL, text)
            bob.store.changed.clear()
            await send(alice, bob)
            assert bob.path(REL).read_text() == text
            assert bob.path(REL).stat().st_ino == ino
            assert bob.mirror.synced[REL].digest == hashlib.sha256(text.encode()).digest()
            assert load_records(bob.folder) == {}
            await bob.mirror.rescan()  # its own write is not a save
            assert bob.store.changed == []

    trio.run(main)


def test_a_failed_patch_is_rewritten_from_the_doc_in_the_next_round(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        shorter = text[:-40] + text[-10:]
        await alice.save(REL, shorter)
        bob.store.changed.clear()

        def no_space(fd: int, size: int) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(os, "ftruncate", no_space)
        await send(alice, bob)
        monkeypatch.undo()
        assert REL in bob.mirror.patching
        assert bob.path(REL).read_text() != shorter  # torn: the old end is still there
        await bob.mirror.local_changes([])
        assert bob.path(REL).read_text() == shorter
        assert bob.store.changed == []
        assert load_records(bob.folder) == {}

    trio.run(main)


def test_a_save_landing_right_before_the_patch_is_merged_not_overwritten(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        theirs = near_the_end(text, "[alice]")
        ours = "[bob] " + text
        await alice.save(REL, theirs)
        real_write_record = patch.write_record

        def record_then_save(root: Path, record: PatchRecord) -> None:
            real_write_record(root, record)
            tmp = root / "save.tmp"
            tmp.write_text(ours)
            tmp.replace(root / REL)

        monkeypatch.setattr(patch, "write_record", record_then_save)
        await send(alice, bob)
        monkeypatch.undo()
        assert bob.path(REL).read_text() == ours  # the patch stood back
        await bob.mirror.local_changes([])
        merged = "[bob] " + theirs
        assert bob.path(REL).read_text() == merged
        await send(bob, alice)
        assert alice.path(REL).read_text() == merged

    trio.run(main)


def test_the_device_that_made_the_file_patches_it_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def main() -> None:
        alice, bob, text = await synced_pair(tmp_path)
        ino = alice.path(REL).stat().st_ino
        forbid_prefix_reads(monkeypatch)
        edited = near_the_end(text, "[bob]")
        await bob.save(REL, edited)
        await send(bob, alice)
        assert alice.path(REL).read_text() == edited
        assert alice.path(REL).stat().st_ino == ino

    trio.run(main)


def test_a_remote_delete_heard_first_after_a_torn_patch_deletes_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first thing the new mirror hears is a peer's delete, before any rescan: the
    torn file is not a save that wins over it."""

    async def main() -> None:
        alice, bob, _ = await crashed_patch(tmp_path, monkeypatch, cut_mid_text)
        alice.path(REL).unlink()
        await alice.mirror.local_changes([REL])
        await trio.sleep(VANISHED_HOLD_S)  # virtual time: then told as deleted
        await alice.mirror.flush()
        restart(bob)
        await send(alice, bob)
        assert not bob.path(REL).exists()
        assert bob.mirror.view.by_path.get(REL) is None
        assert load_records(bob.folder) == {}
        await bob.mirror.rescan()
        assert not bob.path(REL).exists()
        assert bob.store.changed == []

    trio.run(main, clock=MockClock(autojump_threshold=0))
