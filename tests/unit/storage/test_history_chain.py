"""Kept versions' states stored as a chain (``storage.historystates``): each state
after the first holds only what the doc gained, every kept version still restores
to exactly its text through compactions, pruning and a reopen, and a chain that
would not read back the same is stored whole."""

from __future__ import annotations

import random
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import pycrdt
import pytest

from p2psync.storage import historystates
from p2psync.storage.compaction import replay
from p2psync.storage.doclog import DocLog
from p2psync.storage.history import DocHistory, VersionNote, commit_compaction
from p2psync.storage.retention import DAY, HOUR, RetentionPolicy
from p2psync.storage.timeline import Version
from p2psync.storage.versionedit import edit_back
from p2psync.storage.versionindex import load_timeline, versions_path

NOW = 1_800_000_000.0


@dataclass
class Clock:
    """A simulated clock: ``now`` moves when the test says."""

    now: float

    def __call__(self) -> float:
        return self.now


def _edit(rng: random.Random, doc: pycrdt.Doc[Any]) -> bytes:
    before = doc.get_state()
    text = doc.get("content", type=pycrdt.Text)
    current = str(text)
    if current and rng.random() < 0.45:
        start = rng.randrange(len(current))
        del text[start : min(len(current), start + rng.randint(1, 12))]
    else:
        text.insert(rng.randint(0, len(current)), rng.choice(["a", "bc ", "\n", "word " * 4]))
    update: bytes = doc.get_update(before)
    return update


def _run(path: Path, seed: int, policy: RetentionPolicy) -> tuple[dict[int, str], DocHistory]:
    """Random saves over simulated months, compacted now and then; every version's
    text by number."""
    rng = random.Random(seed)
    clock = Clock(NOW - 100 * DAY)
    history = DocHistory(path, "content", policy, clock=clock)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    texts: dict[int, str] = {}
    with DocLog.open(path).log as log:
        for _ in range(120):
            clock.now += rng.choice([30.0, HOUR / 2, 5 * HOUR, DAY, 3 * DAY])
            begin = log.update_count
            log.append([_edit(rng, doc) for _ in range(rng.randint(1, 4))])
            text = str(doc.get("content", type=pycrdt.Text))
            note = VersionNote(clock.now, rng.choice("AB"), "local save", text)
            history.note(note, begin, log.update_count, log)
            texts[history.versions()[-1].number] = text
            history.save()
            if rng.random() < 0.15:
                snapshot = replay(log.updates_before(log.end)).get_update()
                commit_compaction(log, log.end, snapshot, history)
        for version in history.versions():
            found = history.text_at(version.number, log)
            assert found is not None
            assert found[1] == texts[version.number], version.number
    return texts, history


@pytest.mark.parametrize("seed", range(8))
def test_every_kept_version_restores_exactly_through_a_chain(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "doc.ylog"
    texts, history = _run(path, seed, RetentionPolicy())
    timeline = load_timeline(versions_path(path))
    stateful = [v for v in timeline if v.state]
    assert len(stateful) > 3
    assert not stateful[0].chained
    assert all(v.chained for v in stateful[1:])
    wholes = [historystates.full_state(timeline, v.number) for v in stateful]
    assert sum(len(v.state) for v in stateful) < sum(len(w) for w in wholes)
    again = DocHistory(path, "content", RetentionPolicy(), clock=lambda: NOW - DAY)
    with DocLog.open(path, create=False).log as log:
        for version in again.versions():
            found = again.text_at(version.number, log)
            assert found is not None
            assert found[1] == texts[version.number]
            held = again.doc_at(version.number, log, client_id=4_000 + version.number)
            assert held is not None
            doc = held[1]
            assert (held[0], str(doc.get("content", type=pycrdt.Text))) == found
            assert doc.client_id == 4_000 + version.number  # a restore's edits are its own
        assert again.versions() == history.versions()
        assert any(not v.state for v in again.versions())  # doc_at replayed the log too


def test_a_chain_that_would_not_read_back_is_stored_whole(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(historystates, "_gained", lambda *_args: b"\x00\x00")
    path = tmp_path / "doc.ylog"
    _run(path, 3, RetentionPolicy())  # checks every kept text
    stateful = [v for v in load_timeline(versions_path(path)) if v.state]
    assert len(stateful) > 3
    assert not any(v.chained for v in stateful)


def test_deletions_left_out_are_only_those_the_state_before_had() -> None:
    rng = random.Random(7)
    for _ in range(300):
        new = {1: historystates._merged([(rng.randrange(60), rng.randrange(8)) for _ in range(6)])}
        old = {1: historystates._merged([(rng.randrange(60), rng.randrange(8)) for _ in range(6)])}
        left = historystates._minus(new, old)
        cells = {c for a, n in new[1] for c in range(a, a + n)}
        cells -= {c for a, n in old[1] for c in range(a, a + n)}
        assert {c for a, n in left.get(1, []) for c in range(a, a + n)} == cells
        assert all(n > 0 for _, n in left.get(1, []))


def test_a_save_coalescing_into_a_compacted_version_restores_its_own_text(
    tmp_path: Path,
) -> None:
    path = tmp_path / "doc.ylog"
    clock = Clock(NOW)
    history = DocHistory(path, "content", RetentionPolicy(), clock=clock)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    text = doc.get("content", type=pycrdt.Text)
    with DocLog.open(path).log as log:
        for words, wait in (("first", 60), (" and second", 2), (" and third", 0)):
            before = doc.get_state()
            text += words
            begin = log.update_count
            log.append([doc.get_update(before)])
            history.note(VersionNote(clock.now, "A", "local save", str(text)), begin,
                         log.update_count, log)  # fmt: skip
            history.save()
            if words == " and second":
                commit_compaction(log, log.end, doc.get_update(), history)
            clock.now += wait  # the third save, 2 s after the second, replaces it
        first, second = history.versions()
        assert history.text_at(second.number, log) == (second, "first and second and third")
        assert history.text_at(first.number, log) == (first, "first")


def _restored(history: DocHistory, log: DocLog, current: pycrdt.Doc[Any], number: int) -> str:
    """The text of ``current`` once the edit back to version ``number`` is applied, the
    version's doc read as a restore reads it (``DocHistory.doc_at``)."""
    held = history.doc_at(number, log, client_id=9_000 + number)
    assert held is not None
    version = held[1]
    update = edit_back(version, current.get_update(version.get_state()), "content")
    assert update is not None
    restored: pycrdt.Doc[Any] = pycrdt.Doc()
    restored.apply_update(current.get_update())
    restored.apply_update(update)
    return str(restored.get("content", type=pycrdt.Text))


@pytest.mark.parametrize("seed", range(3))
def test_every_kept_version_is_restored_as_an_edit_from_a_doc_that_keeps_deleted_text(
    tmp_path: Path, seed: int
) -> None:
    path = tmp_path / "doc.ylog"
    texts, history = _run(path, seed, RetentionPolicy())
    with DocLog.open(path, create=False).log as log:
        current = replay(log.updates_before(log.end))
        for version in history.versions():
            assert _restored(history, log, current, version.number) == texts[version.number]


def test_a_doc_that_keeps_deleted_text_holds_the_versions_state_and_full_states_collect_it(
    tmp_path: Path,
) -> None:
    path = tmp_path / "doc.ylog"
    _run(path, 4, RetentionPolicy())
    timeline = load_timeline(versions_path(path))
    grew = 0
    for version in (v for v in timeline if v.state):
        kept = historystates.doc_at(timeline, version.number, client_id=None, collect=False)
        collected = historystates.doc_at(timeline, version.number, client_id=None)
        assert kept is not None
        assert collected is not None
        assert kept.get_state() == collected.get_state()
        assert str(kept.get("content", type=pycrdt.Text)) == str(
            collected.get("content", type=pycrdt.Text)
        )
        full = historystates.full_state(timeline, version.number)
        assert full == collected.get_update()
        grew += len(kept.get_update()) > len(full)
    assert grew  # some deleted text was kept, never in a state given out


def _format_1(path: Path, timeline: list[Version]) -> None:
    """Write ``timeline`` as an older p2psync did: format 1, each chained state
    zlib-compressed in its row."""
    rows = []
    for v in timeline:
        state = zlib.compress(v.state) if v.chained else v.state
        row = [v.time, v.device, v.kind, v.log_end, v.size, v.added, v.removed, state, v.number]
        rows.append([*row, v.old_path, v.text_key, 1] if v.chained else row)
    body = msgpack.packb([rows, None], use_bin_type=True)
    path.write_bytes(struct.pack(">8sHII", b"P2PSVER\n", 1, len(body), zlib.crc32(body)) + body)


def test_an_older_files_chain_restores_every_kept_version(tmp_path: Path) -> None:
    path = tmp_path / "doc.ylog"
    texts, _ = _run(path, 6, RetentionPolicy())
    timeline = load_timeline(versions_path(path))
    assert any(v.chained for v in timeline)
    _format_1(versions_path(path), timeline)
    assert versions_path(path).read_bytes()[8:10] == b"\x00\x01"
    older = DocHistory(path, "content", RetentionPolicy(), clock=lambda: NOW - DAY)
    with DocLog.open(path, create=False).log as log:
        assert older.versions() == timeline
        current = replay(log.updates_before(log.end))
        for version in older.versions():
            assert _restored(older, log, current, version.number) == texts[version.number]
