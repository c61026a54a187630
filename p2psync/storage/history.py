"""One doc's timeline kept up to date by the writer of its log (docs/history.md).

A ``DocHistory`` belongs to the ``LogWriter`` of one log and is only used from the
writer's thread, in the order of the writer's queue: a change's version is recorded
right after the append that stores its updates, with the log's exact update count as
its ``log_end``, and compaction gives the kept versions inside its prefix their full
state before the log is rewritten. The daemon says what a change is (a
``VersionNote``: when, by which device, what kind, the text after it); this module
knows nothing of files, peers or the mirror.
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TypedDict

import pycrdt

from p2psync.errors import StorageError
from p2psync.storage import format as fmt
from p2psync.storage.binarybudget import BinaryBudget
from p2psync.storage.compaction import YDoc, apply_in_chunks, replay
from p2psync.storage.doclog import DocLog
from p2psync.storage.historystates import doc_at, full_state, rechain
from p2psync.storage.retention import RetentionPolicy
from p2psync.storage.timeline import COALESCE_SECONDS, Version, char_changes, record
from p2psync.storage.versionindex import (
    PendingFold,
    load_index,
    prune,
    save_timeline,
    versions_path,
)
from p2psync.storage.versionstate import fold, text_of
from p2psync.storage.versiontexts import Row, VersionTexts

log = logging.getLogger(__name__)


class _Cap(TypedDict):
    binary: bool
    budget: tuple[BinaryBudget, Path] | None


@dataclass(frozen=True, slots=True)
class VersionNote:
    """What the daemon knows of a change when it hands its updates to the writer."""

    time: float
    device: str
    kind: str
    """"local save", "remote change" or "restore"; the first change of a doc is
    recorded as "create" whatever its note says (but a restore). ``mark`` also takes
    "delete" and "rename"."""
    text: str
    """The doc's text once the change is applied (empty for a deletion)."""
    old_path: str = ""
    """For a ``rename`` (which ``mark`` takes too): the path the file had before."""
    size: int | None = None
    """For a file that is not text (a binary file, an app doc): its size; no text is
    read or compared (+0 / -0), ``text`` is empty. A version's content is then its
    state (``state_at``)."""
    binary: bool = False
    """A binary file's version: its timeline is held to the policy's ``max_bytes``."""


class DocHistory:
    """The timeline of the log at ``log_path``, whose text is the Y.Text ``root``."""

    def __init__(
        self,
        log_path: Path,
        root: str,
        policy: RetentionPolicy,
        *,
        clock: Callable[[], float] = time.time,
        binary: bool = False,
        budget: BinaryBudget | None = None,
    ) -> None:
        self.path = versions_path(log_path)
        self.log_path = log_path
        self.root = root
        self.policy = policy
        self._clock = clock
        self.binary = binary
        """Whether the doc is a binary file's (said by its opener, or by a note):
        then its past versions are capped at the policy's ``max_bytes``."""
        self.budget = budget
        """The share's cap on its binary files' past versions together; None: this
        file's alone (``p2psync compact`` with no daemon running)."""
        self.texts = VersionTexts(log_path)
        """The whole texts of a chunked file's versions."""
        self._timeline: list[Version] | None = None
        self._last_text: str | None = None
        """The text of the newest version (the doc's after the last change recorded),
        once known: the next change is counted against it, coalesced or not."""
        self._dirty = False
        self._fresh = False
        """Whether no timeline was on disk when it was read (none saved since): the
        first save creates the file (``save_timeline(new=True)``)."""
        self._saved: tuple[int, float] = (0, 0.0)
        """(number of the newest version, clock) at the last write of the file."""

    def versions(self) -> list[Version]:
        """The timeline, oldest first (read from its file the first time). Raises
        StorageError if the file is damaged: it is refused, never emptied."""
        if self._timeline is None:
            timeline, pending = load_index(self.path)
            self._timeline = timeline
            self._fresh = not timeline and pending is None
            if pending is not None:
                self._finish_fold(pending)
        return self._timeline

    def _finish_fold(self, pending: PendingFold) -> None:
        """A compaction was under way when the daemon stopped: if the log starts with
        its snapshot, the log was replaced and the later versions move back now."""
        try:
            records = fmt.scan_log(self.log_path.read_bytes()).records
        except FileNotFoundError:
            records = []
        first = records[0] if records else None
        done = (
            first is not None
            and first.type is fmt.RecordType.SNAPSHOT
            and zlib.crc32(first.updates[0]) == pending.snapshot_crc
        )
        if done:
            self._renumber(pending.prefix_updates)
        log.info("%s: finished a compaction cut short (%s)", self.path,
                 "the log was replaced" if done else "the log was not replaced")  # fmt: skip
        assert self._timeline is not None
        save_timeline(self.path, self._timeline)

    def note(self, note: VersionNote, start: int, end: int, doclog: DocLog) -> None:
        """Record the change ``note`` whose updates are the log's ``[start, end)``."""
        timeline = self.versions()
        kind = "create" if start == 0 and not timeline and note.kind != "restore" else note.kind
        if note.size is not None:
            self._record_size(note, kind, end)
            return
        last = self._known_text(timeline, start, doclog)
        record(timeline, time=note.time, device=note.device, kind=kind, log_end=end,
               before=last, after=note.text)  # fmt: skip
        self._last_text = note.text
        self._dirty = True

    def mark(self, note: VersionNote, doclog: DocLog) -> Version:
        """Record a version that stores no update, at the log's current end: a
        deletion (``note.text`` empty), a file back from one with the text its doc
        kept, or a rename. Written at once."""
        timeline = self.versions()
        end = doclog.update_count
        if note.size is not None:
            version = self._record_size(note, note.kind, end)
            self.save()
            return version
        last = self._known_text(timeline, end, doclog)
        version = record(timeline, time=note.time, device=note.device, kind=note.kind,
                         log_end=end, before=last, after=note.text,
                         old_path=note.old_path)  # fmt: skip
        self._last_text = note.text
        self._dirty = True
        self.save()
        return version

    def _record_size(self, note: VersionNote, kind: str, end: int) -> Version:
        """Record the version ``note`` of a file that is not text (``note.size``): an
        app doc's saves coalesce as a text's do, a binary file's only by one device."""
        self.binary = self.binary or note.binary
        version = record(self.versions(), time=note.time, device=note.device, kind=kind,
                         log_end=end, before="", after="", old_path=note.old_path,
                         changes=(0, 0, note.size or 0), together=not self.binary)  # fmt: skip
        self._last_text = None
        self._dirty = True
        return version

    def state_at(self, number: int, doclog: DocLog) -> tuple[Version, bytes] | None:
        """Version ``number`` and the doc's whole state then (one Yjs update; empty
        for a deletion), None if the timeline has no such version."""
        for version in self.versions():
            if version.number != number:
                continue
            if version.kind == "delete":
                return version, b""
            if version.state:
                return version, full_state(self.versions(), number)
            state: bytes = replay(self._log_prefix(version, doclog)).get_update()
            return version, state
        return None

    def doc_at(self, number: int, doclog: DocLog, client_id: int) -> tuple[Version, YDoc] | None:
        """Version ``number`` and a doc holding its state (an empty one for a
        deletion), whose own edits ``client_id`` makes; None if the timeline has no
        such version. Decoded once: what ``state_at`` gives, not encoded again; one
        rebuilt from the chain of states keeps the text the chain deletes (no GC:
        faster to rebuild), so it is read or edited (``storage.versionedit``), never
        encoded whole."""
        for version in self.versions():
            if version.number != number:
                continue
            if version.state and version.kind != "delete":
                chained = doc_at(self.versions(), number, client_id=client_id, collect=False)
                assert chained is not None  # a version with a state holds one
                return version, chained
            doc: YDoc = pycrdt.Doc(client_id=client_id)
            if version.kind != "delete":
                apply_in_chunks(doc, self._log_prefix(version, doclog))
            return version, doc
        return None

    def _log_prefix(self, version: Version, doclog: DocLog) -> list[bytes]:
        """The log's updates up to ``version`` (which holds no state of its own);
        StorageError if the log no longer holds them all."""
        updates = doclog.updates_before(doclog.end)
        if version.log_end > len(updates):
            raise StorageError(
                self.path, f"the log no longer holds the updates of version {version.number}"
            )
        return updates[: version.log_end]

    def chunk_guids(self) -> set[str]:
        """The chunks the newest version of a chunked file holds (none if it is not
        one): those a change did not touch since need not be read again."""
        timeline = self.versions()
        if not timeline or not timeline[-1].text_key:
            return set()
        return {guid for guid, _, _ in self.texts.rows(timeline[-1].text_key)}

    def note_chunks(
        self, note: VersionNote, chunks: list[tuple[str, str | None]], doclog: DocLog
    ) -> Version | None:
        """Record a change of a chunked file (its chunks' logs are not this log):
        ``chunks`` are its chunk docs in order, each with its text, or None for one
        that holds what it held at the newest version (``chunk_guids``). The texts
        are stored apart first, durably, and the version names them, at this log's
        current end. Coalesces as ``note`` does; nothing if the text is the newest
        version's and the change is a save. Also takes the marks (``mark``) that
        hold a text: a rename, a file back. Written as ``note``'s are."""
        timeline = self.versions()
        newest = timeline[-1] if timeline else None
        before = self._chunk_rows(newest)
        known = {guid: (name, size) for guid, name, size in before}
        rows: list[Row] = []
        for guid, text in chunks:
            if text is None and guid not in known:
                raise StorageError(self.path, f"chunk {guid} is not in the newest version")
            name, size = known[guid] if text is None else (self.texts.put_piece(text),
                                                           len(text.encode()))  # fmt: skip
            rows.append((guid, name, size))
        if rows == before and note.kind in ("local save", "remote change"):
            return None
        kind = "create" if not timeline and note.kind != "restore" else note.kind
        key = self.texts.put_rows(rows)
        added, removed = self._chunk_changes(newest, rows, doclog)  # record sums if coalesced
        version = record(timeline, time=note.time, device=note.device, kind=kind,
                         log_end=doclog.update_count, before="", after="",
                         old_path=note.old_path, text_key=key,
                         changes=(added, removed, sum(size for _, _, size in rows)))  # fmt: skip
        self._last_text = None
        self._dirty = True
        self.save(force=False)
        return version

    def _chunk_rows(self, version: Version | None) -> list[Row]:
        if version is None or not version.text_key or version.kind == "delete":
            return []
        return self.texts.rows(version.text_key)

    def _chunk_changes(
        self, base: Version | None, rows: list[Row], doclog: DocLog
    ) -> tuple[int, int]:
        """(+N, -M) from ``base`` to the chunks ``rows``: chunk by chunk, reading only
        the chunks whose text differs, when ``base`` is a chunked version too."""
        if base is not None and (not base.text_key or base.kind == "delete"):
            text = "".join(self.texts.piece(name) for _, name, _ in rows)
            return char_changes(self._text(base, doclog), text)
        old = {guid: name for guid, name, _ in self._chunk_rows(base)}
        new = {guid: name for guid, name, _ in rows}
        added = removed = 0
        for guid in old.keys() | new.keys():
            if old.get(guid) != new.get(guid):
                before, after = (
                    self.texts.piece(n) if n else "" for n in (old.get(guid), new.get(guid))
                )
                plus, minus = char_changes(before, after)
                added, removed = added + plus, removed + minus
        return added, removed

    def save(self, *, force: bool = True) -> None:
        """Drop what the policy no longer keeps and write the timeline if it changed.

        Without ``force`` a save that only coalesced into the newest version is
        written once ``COALESCE_SECONDS`` passed since the last write (a burst of
        keystrokes from a peer costs one write, not one per group); the writer forces
        the write when it closes. A crash in between loses only that coalescing: the
        version keeps its earlier end, whose text the log still holds. The policy is
        applied at every save, coalesced or not (a share's ``max_bytes`` may drop
        this file's oldest version because another file changed), and a save that
        drops a version is written at once, before the texts it held are removed.
        """
        if not self._dirty or self._timeline is None:
            return
        newest = self._timeline[-1].number if self._timeline else 0
        now = self._clock()
        kept = prune(self._timeline, now, self.policy, **self._cap())
        dropped = len(kept) != len(self._timeline)
        coalescing = newest == self._saved[0] and now - self._saved[1] < COALESCE_SECONDS
        if not force and not dropped and coalescing:
            return
        if _stateful(kept) != _stateful(self._timeline):
            kept = rechain(self._timeline, kept)
        self._timeline = kept
        save_timeline(self.path, kept, new=self._fresh)
        self._fresh = self._dirty = False
        if self.texts.path.exists():
            self.texts.keep_only(v.text_key for v in kept if v.text_key)
        self._saved = (newest, now)

    def _cap(self) -> _Cap:
        """How ``prune`` holds this timeline to ``max_bytes``."""
        budget = (self.budget, self.path) if self.budget is not None else None
        return {"binary": self.binary, "budget": budget}

    def text_at(self, number: int, doclog: DocLog) -> tuple[Version, str] | None:
        """Version ``number`` and its text, None if the timeline has no such version."""
        for version in self.versions():
            if version.number == number:
                return version, self._text(version, doclog)
        return None

    def _text(self, version: Version, doclog: DocLog, updates: list[bytes] | None = None) -> str:
        """The text of ``version``: kept apart, in its state, or replayed from the log
        (``updates``, the log's, read if not given; then the log must hold them)."""
        if version.kind == "delete":
            return ""
        if version.text_key:
            return self.texts.get(version.text_key)
        if version.state:
            doc = doc_at(self.versions(), version.number, client_id=None, collect=False)
            assert doc is not None  # a version with a state holds one
            return str(doc.get(self.root, type=pycrdt.Text))
        if updates is not None:
            return text_of(version, updates, self.root)
        return text_of(version, self._log_prefix(version, doclog), self.root)

    # -- compaction --------------------------------------------------------------

    def before_compaction(self, prefix: list[bytes], snapshot: bytes) -> None:
        """Give every kept version inside ``prefix`` (the log's first updates, about to
        become the one update ``snapshot``) its full state, and write that durably
        with the compaction as pending. Versions keep their positions: until the log
        is replaced they still name its updates."""
        source = self.versions()
        timeline = prune(source, self._clock(), self.policy, **self._cap())
        folded = fold(timeline, prefix)
        self._timeline = rechain(source, [
            replace(v, state=f.state) if v.log_end <= len(prefix) else v
            for v, f in zip(timeline, folded, strict=True)
        ])  # fmt: skip
        self._last_text = None
        pending = PendingFold(len(prefix), zlib.crc32(snapshot))
        save_timeline(self.path, self._timeline, pending)
        self._dirty = False

    def after_compaction(self, prefix_updates: int) -> None:
        """The log's first ``prefix_updates`` updates are one snapshot now: move the
        later versions back. If the write fails it is retried at the next save."""
        self._renumber(prefix_updates)
        self._dirty = True
        try:
            self.save()
        except OSError as exc:
            log.error("%s: cannot write the history file after compaction: %s", self.path, exc)

    def _renumber(self, prefix_updates: int) -> None:
        self._timeline = [
            replace(v, log_end=1) if v.log_end <= prefix_updates
            else replace(v, log_end=v.log_end - prefix_updates + 1)
            for v in self.versions()
        ]  # fmt: skip

    def _known_text(self, timeline: list[Version], start: int, doclog: DocLog) -> str:
        """The cached newest text; after a restart, rebuilt (once per doc): the newest
        version's, or with none the log's text before ``start``."""
        if self._last_text is not None:
            return self._last_text
        if not timeline and start == 0:
            return ""
        if not timeline:
            updates = doclog.updates_before(doclog.end)[:start]
            return str(replay(updates).get(self.root, type=pycrdt.Text))
        return self._text(timeline[-1], doclog)


def _stateful(timeline: list[Version]) -> list[int]:
    """The numbers of the versions of ``timeline`` that hold a state."""
    return [v.number for v in timeline if v.state]


def record_safely(history: DocHistory, action: Callable[[], None]) -> None:
    """Run a history step after an append; a failure is logged, never the append's
    (the updates are stored: a version missing from the timeline loses no text)."""
    try:
        action()
    except (StorageError, OSError, ValueError) as exc:
        log.error("%s: file history not updated: %s", history.path, exc)
    except Exception:  # a bug here must not stop the log's writer
        log.exception("%s: file history not updated", history.path)


def commit_compaction(
    doclog: DocLog, prefix_end: int, snapshot: bytes, history: DocHistory | None
) -> None:
    """``doclog.commit_compaction`` that keeps ``history``'s versions rebuildable: the
    kept versions inside the prefix get their states first (a failure to write them
    stops the compaction, and the log keeps their updates), the rest move back after."""
    if history is None or not history.versions():
        doclog.commit_compaction(prefix_end, snapshot)
        return
    prefix = doclog.updates_before(prefix_end)
    history.before_compaction(prefix, snapshot)
    doclog.commit_compaction(prefix_end, snapshot)
    history.after_compaction(len(prefix))
