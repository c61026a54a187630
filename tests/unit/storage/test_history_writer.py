"""A log's writer keeps the doc's timeline: versions at the right positions, saves
coalesced, the kept versions' text intact across compaction and a reopen."""

from __future__ import annotations

import difflib
from functools import partial
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pycrdt
import pytest
import trio

from p2psync.errors import StorageError
from p2psync.storage import timeline
from p2psync.storage.compaction import replay
from p2psync.storage.doclog import DocLog
from p2psync.storage.history import DocHistory, VersionNote
from p2psync.storage.retention import RetentionPolicy
from p2psync.storage.timeline import Version
from p2psync.storage.versionindex import load_timeline, save_timeline, versions_path
from p2psync.storage.writer import LogWriter

ROOT = "content"


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def _edit(doc: pycrdt.Doc[Any], text: str) -> bytes:
    before = doc.get_state()
    content = doc.get(ROOT, type=pycrdt.Text)
    with doc.transaction():
        del content[:]
        content += text
    return doc.get_update(before)


def _text_at(number: int, history: DocHistory, log: DocLog) -> str | None:
    found = history.text_at(number, log)
    return found[1] if found is not None else None


async def _run(path: Path, clock: Clock, body: Any) -> None:
    opened = DocLog.open(path)
    history = DocHistory(path, ROOT, RetentionPolicy(), clock=clock)
    writer = LogWriter(opened.log, history=history)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        await body(writer)
        await writer.aclose()
    opened.log.close()


async def test_versions_are_recorded_coalesced_and_survive_compaction(tmp_path: Path) -> None:
    path = tmp_path / "doc.ylog"
    clock = Clock()
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    texts = ["one\n", "one\ntwo\n", "one\ntwo\nthree\n", "ONE\n"]

    async def save(writer: LogWriter, text: str, kind: str = "local save") -> None:
        note = VersionNote(clock.now, "A", kind, text)
        await writer.append([_edit(doc, text)], note)

    async def body(writer: LogWriter) -> None:
        await save(writer, texts[0])
        clock.now += 60
        await save(writer, texts[1])
        clock.now += 3  # coalesces with the save before
        await save(writer, texts[2])
        await writer.enqueue([_edit(doc, "junk")])  # a change with no version of its own
        clock.now += 60
        await save(writer, texts[3], "restore")
        listed = await writer.with_history(lambda h, _log: list(h.versions()))
        assert [(v.number, v.kind, v.log_end) for v in listed] == [
            (1, "create", 1),
            (2, "local save", 3),
            (3, "restore", 5),
        ]
        assert (listed[1].added, listed[1].removed) == (len("two\nthree\n"), 0)
        await writer.compact()
        for number, text in ((1, texts[0]), (2, texts[2]), (3, texts[3])):
            found = await writer.with_history(partial(_text_at, number))
            assert found == text
        assert await writer.with_history(lambda h, log: h.text_at(9, log)) is None

    await _run(path, clock, body)
    stored = load_timeline(versions_path(path))
    assert [v.number for v in stored] == [1, 2, 3]
    assert stored[0].state  # folded into the snapshot: kept whole
    assert stored[1].state

    async def reopened(writer: LogWriter) -> None:
        clock.now += 60
        await save(writer, "ONE\nfour\n")
        listed = await writer.with_history(lambda h, _log: list(h.versions()))
        assert (listed[-1].number, listed[-1].kind) == (4, "local save")
        assert (listed[-1].added, listed[-1].removed) == (len("four\n"), 0)
        found = await writer.with_history(lambda h, log: h.text_at(4, log))
        assert found is not None
        assert found[1] == "ONE\nfour\n"

    await _run(path, clock, reopened)


async def test_a_docs_first_timeline_is_created_in_place_later_ones_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first save of a doc with no timeline creates the file (no temp file and
    rename: a first sync makes thousands); every later one replaces it atomically,
    also after a reopen."""
    path = tmp_path / "doc.ylog"
    clock = Clock()
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    made: list[bool] = []
    real = save_timeline

    def save_timeline_noting(path: Path, timeline: list[Version], *a: Any, **kw: Any) -> None:
        made.append(kw.get("new", False))
        real(path, timeline, *a, **kw)

    monkeypatch.setattr("p2psync.storage.history.save_timeline", save_timeline_noting)

    async def saves(texts: list[str]) -> None:
        async def body(writer: LogWriter) -> None:
            for text in texts:
                clock.now += 60
                await writer.append(
                    [_edit(doc, text)], VersionNote(clock.now, "A", "local save", text)
                )

        await _run(path, clock, body)

    await saves(["one\n", "two\n"])
    await saves(["three\n"])
    assert made == [True, False, False]
    assert [v.kind for v in load_timeline(versions_path(path))] == [
        "create",
        "local save",
        "local save",
    ]


async def test_a_writer_without_history_ignores_notes(tmp_path: Path) -> None:
    path = tmp_path / "doc.ylog"
    opened = DocLog.open(path)
    writer = LogWriter(opened.log)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        await writer.append([_edit(doc, "x")], VersionNote(0.0, "A", "local save", "x"))
        await writer.aclose()
    opened.log.close()
    assert not versions_path(path).exists()
    assert opened.log.update_count == 1


async def test_a_doc_with_updates_from_before_history_counts_from_its_text(
    tmp_path: Path,
) -> None:
    path = tmp_path / "doc.ylog"
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    with DocLog.open(path).log as old:  # written before the daemon kept history
        old.append([_edit(doc, "hello\n")])
    clock = Clock()

    async def body(writer: LogWriter) -> None:
        note = VersionNote(clock.now, "B", "remote change", "hello\nworld\n")
        await writer.enqueue([_edit(doc, "hello\nworld\n")], note)
        listed = await writer.with_history(lambda h, _log: list(h.versions()))
        assert [(v.kind, v.log_end, v.added, v.removed) for v in listed] == [
            ("remote change", 2, len("world\n"), 0)
        ]

    await _run(path, clock, body)


async def test_keep_none_keeps_only_the_newest_version(tmp_path: Path) -> None:
    path = tmp_path / "doc.ylog"
    clock = Clock()
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    opened = DocLog.open(path)
    history = DocHistory(path, ROOT, RetentionPolicy(keep="none"), clock=clock)
    writer = LogWriter(opened.log, history=history)
    async with trio.open_nursery() as nursery:
        await nursery.start(writer.run)
        for text in ("a", "ab", "abc"):
            clock.now += 60
            await writer.append([_edit(doc, text)], VersionNote(clock.now, "A", "local save", text))
        await writer.compact()
        assert await writer.with_history(partial(_text_at, 3)) == "abc"
        await writer.aclose()
    opened.log.close()
    assert [v.number for v in load_timeline(versions_path(path))] == [3]


def test_a_version_past_the_end_of_its_log_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "doc.ylog"
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    with DocLog.open(path).log as log:
        log.append([_edit(doc, "only")])
    save_timeline(versions_path(path), [Version(0.0, "A", "create", 5, 4, 4, 0, number=1)])
    history = DocHistory(path, ROOT, RetentionPolicy())
    with DocLog.open(path, create=False).log as log, pytest.raises(StorageError):
        history.text_at(1, log)


@pytest.mark.parametrize("log_replaced", [True, False])
def test_a_compaction_cut_short_is_finished_at_the_next_load(
    tmp_path: Path, log_replaced: bool
) -> None:
    path = tmp_path / "doc.ylog"
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    texts = ["a\n", "a\nb\n", "a\nb\nc\n"]
    with DocLog.open(path).log as log:
        for text in texts:
            log.append([_edit(doc, text)])
        prefix_end = log.end
        log.append([_edit(doc, "a\nb\nc\nd\n")])
    now = 1_800_000_000.0
    save_timeline(versions_path(path), [
        Version(now - 30, "A", "create", 1, 2, 2, 0, number=1),
        Version(now - 20, "A", "local save", 3, 6, 4, 0, number=2),
        Version(now - 10, "B", "remote change", 4, 8, 2, 0, number=3),
    ])  # fmt: skip
    history = DocHistory(path, ROOT, RetentionPolicy(), clock=lambda: now)
    with DocLog.open(path, create=False).log as log:
        prefix = log.updates_before(prefix_end)
        snapshot = replay(prefix).get_update()
        history.before_compaction(prefix, snapshot)
        if log_replaced:  # then the daemon is killed: the timeline is not renumbered
            log.commit_compaction(prefix_end, snapshot)

    again = DocHistory(path, ROOT, RetentionPolicy(), clock=lambda: now)
    with DocLog.open(path, create=False).log as log:
        found = [again.text_at(n, log) for n in (1, 2, 3)]
    assert [f[1] if f else None for f in found] == [texts[0], texts[2], "a\nb\nc\nd\n"]
    assert [v.log_end for v in load_timeline(versions_path(path))][2] == (2 if log_replaced else 4)


async def test_a_deletion_is_a_version_with_no_text_and_keeps_the_last_text(
    tmp_path: Path,
) -> None:
    path = tmp_path / "doc.ylog"
    clock = Clock()
    doc: pycrdt.Doc[Any] = pycrdt.Doc()

    async def body(writer: LogWriter) -> None:
        await writer.append([_edit(doc, "kept\n")], VersionNote(clock.now, "A", "local save",
                                                                 "kept\n"))  # fmt: skip
        clock.now += 1
        deleted = await writer.with_history(
            lambda h, log: h.mark(VersionNote(clock.now, "B", "delete", ""), log)
        )
        assert (deleted.number, deleted.kind, deleted.size) == (2, "delete", 0)
        assert (deleted.added, deleted.removed) == (0, len("kept\n"))
        assert await writer.with_history(partial(_text_at, 2)) == ""
        assert await writer.with_history(partial(_text_at, 1)) == "kept\n"

    await _run(path, clock, body)
    # A day later, in the same hour bucket: the deletion does not push the text out.
    clock.now += 86_400 * 2
    history = DocHistory(path, ROOT, RetentionPolicy(), clock=clock)
    history._dirty = True
    history.versions()
    history.save()
    assert [v.kind for v in load_timeline(versions_path(path))] == ["create", "delete"]
    none = DocHistory(path, ROOT, RetentionPolicy(keep="none"), clock=clock)
    none.versions()
    none._dirty = True
    none.save()
    assert [v.kind for v in load_timeline(versions_path(path))] == ["create", "delete"]


async def test_devices_editing_together_cost_each_change_its_own_diff(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two devices' edits alternating (one at the start of the text, the other at its
    end) make one version; each joins it at the cost of a diff of that change alone,
    however long the version grew (a diff across the version would span the whole
    text), and the version's counts are the sums of its changes'. After a reopen the
    next change is counted against the newest version's text, rebuilt from the log."""
    diffed: list[int] = []  # the characters each diff compared

    def matcher(junk: None, a: str, b: str, autojunk: bool = True) -> difflib.SequenceMatcher[str]:
        diffed.append(len(a) + len(b))
        return difflib.SequenceMatcher(junk, a, b, autojunk=autojunk)

    monkeypatch.setattr(timeline, "difflib", SimpleNamespace(SequenceMatcher=matcher))
    path, clock = tmp_path / "doc.ylog", Clock()
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    turns = 40
    text = "x" * 1000

    async def body(writer: LogWriter) -> None:
        nonlocal text
        await writer.append([_edit(doc, text)], VersionNote(clock.now, "A", "create", text))
        clock.now += 60
        for turn in range(turns):
            clock.now += 1
            device, kind = ("A", "local save") if turn % 2 else ("B", "remote change")
            text = f"a{turn:03}\n{text}" if turn % 2 else f"{text}b{turn:03}\n"
            await writer.append([_edit(doc, text)], VersionNote(clock.now, device, kind, text))

    await _run(path, clock, body)
    versions = load_timeline(versions_path(path))
    assert [(v.number, v.devices) for v in versions] == [(1, ("A",)), (2, ("B",)),
                                                          (3, ("A", "B"))]  # fmt: skip
    assert (versions[2].added, versions[2].removed) == (5 * (turns - 1), 0)
    assert len(diffed) == 1 + turns  # one diff per change, none again
    assert max(diffed[1:]) <= 5  # each change's five characters, not the version's

    async def reopened(writer: LogWriter) -> None:
        clock.now += 1
        edited = text.replace("a001\n", "", 1)
        await writer.append([_edit(doc, edited)], VersionNote(clock.now, "A", "local save", edited))

    diffed.clear()
    await _run(path, clock, reopened)
    newest = load_timeline(versions_path(path))[-1]
    assert (newest.number, newest.added, newest.removed) == (3, 5 * (turns - 1), 5)
    assert diffed == [5]


class CountingHistory(DocHistory):
    """A history that counts its saves (each a write of the timeline if it changed)."""

    saves = 0

    def save(self, *, force: bool = True) -> None:
        self.saves += 1
        super().save(force=force)


async def test_a_writer_closes_without_a_save_unless_its_history_has_one_pending(
    tmp_path: Path,
) -> None:
    path, clock = tmp_path / "doc.ylog", Clock()
    history = CountingHistory(path, ROOT, RetentionPolicy(), clock=clock)
    opened = DocLog.open(path)
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    async with trio.open_nursery() as nursery:
        idle = LogWriter(opened.log, history=history)
        await nursery.start(idle.run)
        await idle.aclose()
    assert history.saves == 0  # nothing recorded: the close costs no worker-thread step
    async with trio.open_nursery() as nursery:
        writer = LogWriter(opened.log, history=history)
        await nursery.start(writer.run)
        await writer.append([_edit(doc, "a")], VersionNote(clock.now, "A", "local save", "a"))
        for text in ("ab", "abc"):  # the second coalesces into the first
            clock.now += 1
            await writer.append([_edit(doc, text)], VersionNote(clock.now, "A", "local save", text))
        assert load_timeline(versions_path(path))[-1].log_end == 2  # coalesced, not written yet
        await writer.aclose()
    opened.log.close()
    assert history.saves == 4
    assert load_timeline(versions_path(path))[-1].log_end == 3  # written at the close
