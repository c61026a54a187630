"""``[shares.history] max_bytes``: a binary file's past versions are capped in bytes,
oldest first, never its newest version and never a text file's versions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pycrdt
import pytest
import trio

from p2psync.cli.compact import compact_log, holds_binary
from p2psync.mirror import binary
from p2psync.mirror.hlc import Timestamp
from p2psync.storage.compaction import replay
from p2psync.storage.doclog import DocLog
from p2psync.storage.history import DocHistory, VersionNote
from p2psync.storage.retention import RetentionPolicy, within_bytes
from p2psync.storage.timeline import Version
from p2psync.storage.versionindex import load_timeline, prune, versions_path
from p2psync.storage.writer import LogWriter

NOW = 1_800_000_000.0
KB = 1000


def test_within_bytes_drops_the_oldest_past_the_cap_and_keeps_the_newest() -> None:
    sizes = [KB, KB, KB, KB, 5 * KB]
    everything = set(range(5))
    assert within_bytes(sizes, everything, None) == everything
    assert within_bytes(sizes, everything, 2 * KB) == {2, 3, 4}
    assert within_bytes(sizes, everything, 2 * KB - 1) == {3, 4}
    assert within_bytes(sizes, everything, 0) == {4}
    assert within_bytes([10 * KB], {0}, 0) == {0}  # the newest stays, however large
    assert within_bytes(sizes, {0, 2, 4}, 2 * KB) == {0, 2, 4}  # only kept ones count
    assert within_bytes(sizes, set(), 0) == set()
    # the oldest go first: a small old version does not outlive a large newer one
    assert within_bytes([1, 3 * KB, KB], {0, 1, 2}, 2 * KB) == {2}
    kept = within_bytes(sizes, everything, 2 * KB)
    assert within_bytes(sizes, kept, 2 * KB) == kept  # applied again: no change


def _timeline() -> list[Version]:
    """Five versions of 1 kB a minute apart, the newest a minute ago."""
    kinds = ["create", *["remote change"] * 4]
    return [
        Version(NOW - 300 + 60 * i, "AB"[i % 2], kind, i + 1, KB, 0, 0, b"", i + 1)
        for i, kind in enumerate(kinds)
    ]


def test_prune_caps_a_binary_timeline_and_never_a_text_one() -> None:
    policy = RetentionPolicy(max_bytes=2 * KB)
    assert [v.number for v in prune(_timeline(), NOW, policy, binary=True)] == [3, 4, 5]
    assert [v.number for v in prune(_timeline(), NOW, policy)] == [1, 2, 3, 4, 5]
    assert [v.number for v in prune(_timeline(), NOW, RetentionPolicy(), binary=True)] == [
        1, 2, 3, 4, 5,
    ]  # fmt: skip


def test_a_deleted_binary_files_last_version_and_deletion_stay_under_any_cap() -> None:
    deleted = [*_timeline(), Version(NOW - 1, "A", "delete", 5, 0, 0, 0, number=6)]
    kept = prune(deleted, NOW, RetentionPolicy(max_bytes=0), binary=True)
    assert [(v.number, v.kind) for v in kept] == [(5, "remote change"), (6, "delete")]


def test_the_policy_refuses_a_negative_cap() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        RetentionPolicy(max_bytes=-1)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> float:
        return self.now


def _save(doc: pycrdt.Doc[Any], n: int, data: bytes) -> bytes:
    before = doc.get_state()
    binary.put(doc, Timestamp(n, 0, b"\x01"), data)
    update: bytes = doc.get_update(before)
    return update


def _picture(n: int) -> bytes:
    return bytes([n]) * KB


async def test_a_binary_files_timeline_keeps_what_fits_and_restores_it_after_compaction(
    tmp_path: Path,
) -> None:
    path = tmp_path / "doc.ylog"
    clock = Clock()
    opened = DocLog.open(path)
    history = DocHistory(path, "content", RetentionPolicy(max_bytes=2 * KB), clock=clock)
    writer = LogWriter(opened.log, history=history)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        for n in range(1, 6):
            clock.now += 60
            note = VersionNote(clock.now, "A", "restore", "", size=KB, binary=True)
            await writer.append([_save(doc, n, _picture(n))], note)
        await writer.compact()
        states = {
            number: await writer.with_history(
                lambda h, log, number=number: h.state_at(number, log)  # type: ignore[misc]
            )
            for number in (3, 4, 5)
        }
        await writer.aclose()
    opened.log.close()
    assert [v.number for v in load_timeline(versions_path(path))] == [3, 4, 5]
    for number, found in states.items():
        assert found is not None
        held = binary.current(replay([found[1]]))
        assert held is not None
        assert held.data == _picture(number)


def test_an_offline_compaction_caps_a_binary_file_and_leaves_a_text_file(tmp_path: Path) -> None:
    clock = Clock()
    for name, is_binary in (("pic.ylog", True), ("notes.ylog", False)):
        path = tmp_path / name
        doc: pycrdt.Doc[Any] = pycrdt.Doc()
        history = DocHistory(path, "content", RetentionPolicy(), clock=clock)
        with DocLog.open(path).log as log:
            for n in range(1, 5):
                if is_binary:
                    log.append([_save(doc, n, _picture(n))])
                else:
                    before = doc.get_state()
                    doc.get("content", type=pycrdt.Text).insert(0, "x" * KB)
                    log.append([doc.get_update(before)])
                note = VersionNote(NOW + 20 * n, "AB"[n % 2], "remote change", "", size=KB)
                history.mark(note, log)
        assert holds_binary(doc.get_update()) is is_binary
        compact_log(path, RetentionPolicy(max_bytes=KB))
        numbers = [v.number for v in load_timeline(versions_path(path))]
        assert numbers == ([3, 4] if is_binary else [1, 2, 3, 4]), name
