"""The file history of one share's text files (docs/history.md): each file's
timeline, a version's text, a version restored as a new edit, deletions marked.
Chunked files' versions are recorded and restored by ``daemon.chunkhistory``.

``ShareHistory`` works through its share (``ShareService``): the doc's writer keeps
the timeline beside the log (``storage.history``), the share applies the edit a
restore makes, and the mirror brings a deleted file back.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from typing import TypeVar

import pycrdt
import trio

from p2psync.control.errorcodes import NotFoundError
from p2psync.daemon.chunkhistory import ChunkedHistory
from p2psync.daemon.filehistory import LivePaths, deleted_entries, under
from p2psync.daemon.historyshare import HistoryShare
from p2psync.daemon.wholehistory import (
    WHOLE,
    binary_restore,
    content_of,
    refuse_app_doc_restore,
    whole_size,
)
from p2psync.errors import P2PSyncError, StorageError, UsageError
from p2psync.ids import new_client_id
from p2psync.mirror.chunked import CHUNK_GUID, CONTENT
from p2psync.mirror.content import text_update
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import MANIFEST_GUID, Entry, ManifestView, read_entry
from p2psync.replica.doc import DocReplica
from p2psync.storage import DocLog
from p2psync.storage.binarybudget import budget_of
from p2psync.storage.compaction import YDoc
from p2psync.storage.history import DocHistory, VersionNote
from p2psync.storage.layout import docs_dir, log_path
from p2psync.storage.timeline import Version
from p2psync.storage.versionedit import edit_back
from p2psync.storage.versionindex import load_timeline, versions_path
from p2psync.storage.writer import LogWriter

log = logging.getLogger(__name__)

T = TypeVar("T")
Found = tuple[Version, T]
"""A version of a doc's timeline and what was read of it (its text, state or doc)."""

Restorable = str | bytes | YDoc
"""What a version restores to: a chunked file's text, a binary file's bytes, or the
doc a text file's doc was then (``DocHistory.doc_at``)."""


class ShareHistory:
    """The file history of one share (see the module docstring)."""

    def __init__(self, share: HistoryShare) -> None:
        self._share = share
        self.chunked = ChunkedHistory(share)
        self._budget_told = False
        """Whether the share's binary budget was told of its binary files."""

    @property
    def name(self) -> str:
        """The share's name, as its log lines and errors say it."""
        return self._share.name

    @property
    def device_id(self) -> str:
        """This device's ID as versions of the file history name it."""
        return self._share.device_id

    def note(self, guid: str, kind: str, device: str | None = None) -> VersionNote | None:
        """What a change of doc ``guid`` that is about to be stored is, for its history:
        None unless the doc is a one-doc text file's (its manifest entry says TEXT, or
        it has none yet and holds a ``content`` text), a binary file's or an app
        doc's (by its entry; their versions have a size, no text). A chunked file's
        doc has its version recorded apart (``ChunkedHistory.changed``)."""
        if guid == MANIFEST_GUID:
            return None
        if self.chunked.changed(guid, kind, device or self._share.device_id):
            return None
        if CHUNK_GUID.fullmatch(guid):
            return None
        doc = self._share.sync.replica.get(guid)
        view = self._view()
        entry = view.by_guid.get(guid) if view is not None else None
        textless = doc is not None and CONTENT not in doc.ydoc.keys()  # noqa: SIM118
        if entry is None and view is not None and textless:
            entry = self._manifest_entry(guid)  # a peer's new binary file, say
        device = device or self._share.device_id
        if doc is not None and entry is not None and entry.kind in WHOLE:
            if entry.kind is FileKind.BINARY and view is not None:
                self._tell_budget(view)
            return VersionNote(time.time(), device, kind, "", size=whole_size(entry.kind, doc),
                               binary=entry.kind is FileKind.BINARY)  # fmt: skip
        if doc is None or (entry is not None and entry.kind is not FileKind.TEXT):
            return None
        if entry is None and CONTENT not in doc.ydoc.keys():  # noqa: SIM118 - Doc is not typed as a container
            return None
        return VersionNote(time.time(), device, kind, doc.text(CONTENT))

    def _manifest_entry(self, guid: str) -> Entry | None:
        """The entry of ``guid`` in the manifest doc, which the mirror's view may not
        have read yet: a first sync's docs arrive right behind the manifest change
        naming them, and a binary file's first version is then recorded with its first
        update instead of loading its doc again for it later (``first_version``)."""
        manifest = self._share.sync.replica.get(MANIFEST_GUID)
        if manifest is None:
            return None
        try:
            return read_entry(manifest.ydoc, guid)
        except ValueError:  # malformed: the mirror reports it
            return None

    def _tell_budget(self, view: ManifestView) -> None:
        """Name the share's binary files (deleted ones too: their versions stay) to its
        budget once, so that those not loaded since the start count in ``max_bytes``."""
        if self._budget_told:
            return
        self._budget_told = True
        root = self._share.root
        budget_of(docs_dir(root)).know(versions_path(log_path(root, guid))
                                       for guid, entry in view.by_guid.items()
                                       if entry.kind is FileKind.BINARY)  # fmt: skip

    def file_changed(self, guid: str, kind: str, device: str) -> bool:
        """The file of doc ``guid`` changed (as ``note`` is told, for a file the
        manifest names only now): True if it is a chunked file, whose version is
        recorded soon."""
        return self.chunked.changed(guid, kind, device)

    async def first_version(self, guid: str, device: str) -> None:
        """Record the first version of the binary file or app doc ``guid`` (its doc
        was stored before the manifest named it), if it has none yet. An unloaded
        doc's timeline is read first, without loading the doc: a first sync's binary
        files nearly always have theirs, recorded with their first update when the
        manifest came before them (``daemon.arrivals``)."""
        entry = self._entry(guid)
        if entry is None or entry.kind not in WHOLE:
            return
        loaded = guid in self._share.logs.writers
        if not loaded and await self.stored_versions(guid):
            return
        doc = self._share.doc(guid)
        if doc is None:
            return
        with self._share.call():
            writer = await self._share.logs.writer(guid)
            note = VersionNote(time.time(), device, "create", "", size=whole_size(entry.kind, doc),
                               binary=entry.kind is FileKind.BINARY)  # fmt: skip

            def first(history: DocHistory, doclog: DocLog) -> None:
                if not history.versions():
                    history.mark(note, doclog)

            if writer.history is not None:
                await writer.with_history(first)
            if not loaded:  # loaded for this alone: it leaves memory soon, as a crowd's
                self._share.logs.residency.brief(guid)

    async def catch_up(self, view: ManifestView) -> None:
        """Record the first version of each chunked file of ``view`` (the manifest as
        stored, at the start) that has none: its version is recorded behind the
        manifest change that names it (``daemon.chunkhistory``), so a stop in between
        left none. Done before the folder is looked at, so that it is the text the
        file was taken in with, not a save made while the daemon was down (which then
        makes the next version). A failure is logged: the file itself is stored."""
        for entry in view.by_path.values():
            if entry.kind is not FileKind.CHUNKED:
                continue
            try:
                if not await self.stored_versions(entry.guid):
                    with self._share.call():  # refused once the share stops
                        await self.chunked.record(entry.guid, "create", self.device_id)
            except UsageError:
                return  # the share stopped: the next start catches up
            except (P2PSyncError, OSError) as exc:
                log.error("share %s: the first version of %s is not in its history: %s",
                          self.name, entry.path, exc)  # fmt: skip

    async def versions(self, guid: str) -> list[Version]:
        """The timeline of the text file whose doc is ``guid``, oldest first."""
        with self._share.call(), self._damaged_timeline(guid):
            writer = await self._history_writer(guid)
            return await writer.with_history(lambda history, _log: list(history.versions()))

    @contextlib.contextmanager
    def _damaged_timeline(self, guid: str) -> Iterator[None]:
        """Say what a damaged timeline file of doc ``guid`` means, for the user asking
        for its versions: their file's past versions cannot be read here, its content
        is safe, and ``doctor --repair`` lets its history start again."""
        try:
            yield
        except StorageError as exc:
            timeline = versions_path(log_path(self._share.root, guid))
            if exc.path != timeline:
                raise
            entry = self._entry(guid)
            problem = str(exc).removeprefix(f"{exc.path}: ")
            raise StorageError(
                exc.path,
                f"the history of {entry.path if entry else guid} cannot be read ({problem}): "
                "its past versions are unreadable on this device, its content is safe; "
                "'p2psync doctor --repair' moves this file aside and its history starts "
                "again at its next change",
            ) from None

    async def version_text(self, guid: str, number: int) -> tuple[Version, str]:
        """Version ``number`` of doc ``guid`` and its text; NotFoundError if the
        timeline has no such version (never had it, or the policy dropped it)."""
        entry = self._entry(guid)
        if entry is not None and entry.kind in WHOLE:
            raise UsageError(f"{entry.path} is a {entry.kind.value} file: its versions have no "
                             "text to show; write one elsewhere with --to OUT")  # fmt: skip
        return await self._at_version(guid, number, lambda h, log: h.text_at(number, log))

    async def version_content(self, guid: str, number: int) -> tuple[Version, bytes]:
        """Version ``number`` of doc ``guid`` and the file it was: a text file's text
        (UTF-8), a binary file's bytes, an app doc's state."""
        entry = self._entry(guid)
        if entry is None or entry.kind not in WHOLE:
            version, text = await self.version_text(guid, number)
            return version, text.encode()
        version, state = await self._at_version(
            guid, number, lambda h, log: h.state_at(number, log)
        )
        return version, await trio.to_thread.run_sync(content_of, entry.kind, state)

    async def _at_version(
        self, guid: str, number: int, read: Callable[[DocHistory, DocLog], Found[T] | None]
    ) -> Found[T]:
        """What ``read`` finds of version ``number`` in doc ``guid``'s timeline (run by
        the writer of its log); NotFoundError if the timeline has no such version
        (never had it, or the policy dropped it)."""
        with self._share.call(), self._damaged_timeline(guid):
            writer = await self._history_writer(guid)
            found = await writer.with_history(read)
            if found is None:
                numbers = await writer.with_history(
                    lambda history, _log: [v.number for v in history.versions()]
                )
                raise NotFoundError(_no_version(number, numbers))
        return found

    def current_text(self, guid: str) -> str:
        """The text of the file whose doc is ``guid`` now (a chunked file's joined)."""
        if self._is_chunked(guid):
            return self.chunked.text(guid)
        doc = self._share.doc(guid)
        return doc.text(CONTENT) if doc is not None else ""

    async def restore_version(self, guid: str, number: int) -> bool:
        """Bring doc ``guid`` back to the text of version ``number`` as a new edit: the
        change from now back to then, made by a fresh client so that it merges with
        concurrent edits as any peer's edit does. Stored durably, sent to peers and
        written to the file; a ``restore`` version. False if the text is that already.
        A deleted file comes back (``restore_versions``)."""
        return (await self.restore_versions({guid: number}))[guid]

    async def restore_versions(self, numbers: dict[str, int]) -> dict[str, bool]:
        """``restore_version`` of each doc -> version number, the deleted files among
        them brought back in one batch of the mirror. Every version is checked before
        anything changes (NotFoundError, UsageError)."""
        if self._share.stopped:
            raise UsageError(self._share.stopped)
        targets = {guid: await self._restorable(guid, n) for guid, n in numbers.items()}
        deleted = [guid for guid in targets if self._deleted_entry(guid)]
        changed: dict[str, bool] = {}
        for guid, target in targets.items():
            doc = self._share.doc(guid)
            if doc is None:
                raise NotFoundError(f"share {self._share.name} has no doc {guid!r}")
            if isinstance(target, str):  # a chunked file's text
                changed[guid] = await self.chunked.restore(guid, target)
            elif isinstance(target, bytes):
                changed[guid] = await self._restore_binary(guid, doc, target, guid not in deleted)
            else:
                changed[guid] = await self._restore_text(guid, doc, target, guid not in deleted)
            changed[guid] = changed[guid] or guid in deleted
        if deleted and self._share.mirror is not None:
            await self._share.mirror.undelete(deleted)
        return changed

    async def _restore_text(self, guid: str, doc: DocReplica, version: YDoc, notify: bool) -> bool:
        """Bring text doc ``guid`` (``doc``) back to the text ``version`` holds (the doc
        at that version, made by a fresh client) as a new edit: found from the doc's
        structure (``storage.versionedit``), or, if that cannot give it, by diffing
        the two texts (a save's edit). False if it holds that text already."""
        text = str(version.get(CONTENT, type=pycrdt.Text))
        if doc.text(CONTENT) == text:
            return False
        gained = doc.diff(version.get_state())
        update = await trio.to_thread.run_sync(edit_back, version, gained, CONTENT)
        if update is None:
            diffed = await trio.to_thread.run_sync(
                text_update, doc.full_state(), text, new_client_id()
            )
            update = diffed[0]
        await self._share.local_update(guid, update, kind="restore", notify=notify)
        return True

    async def _restore_binary(self, guid: str, doc: DocReplica, data: bytes, notify: bool) -> bool:
        """Save ``data`` as binary file ``guid``'s new version, stamped now by the
        mirror's clock; False if it holds ``data`` already."""
        mirror = self._share.mirror
        if mirror is None:
            raise UsageError(f"share {self._share.name} mirrors no folder")
        update = binary_restore(doc, mirror.mirror.clock.tick(), data)
        if update is not None:
            await self._share.local_update(guid, update, kind="restore", notify=notify)
        return update is not None

    async def _restorable(self, guid: str, number: int) -> Restorable:
        """What version ``number`` of doc ``guid`` restores to (``Restorable``);
        UsageError for a deletion, an app doc, or a deleted file whose path another
        file holds now."""
        entry = self._entry(guid)
        if entry is not None and entry.kind is FileKind.YDOC:
            raise refuse_app_doc_restore(entry.path)
        version: Version
        text: Restorable
        if entry is not None and entry.kind is FileKind.BINARY:
            version, text = await self.version_content(guid, number)
        elif self._is_chunked(guid):
            version, text = await self.version_text(guid, number)
        else:
            client_id = new_client_id()  # the restore's own edits
            version, text = await self._at_version(
                guid, number, lambda h, log: h.doc_at(number, log, client_id)
            )
        if version.kind == "delete":
            raise UsageError(
                f"version {number} is the file's deletion: restore a version before it"
            )
        entry = self._deleted_entry(guid)
        if entry is not None and entry.superseded_by:
            raise UsageError(
                f"this doc lost {entry.path} to a file created there at once (its text is "
                "kept in the share's conflicts): write the version elsewhere with --to OUT"
            )
        view = self._view()
        taken = ""
        if entry is not None and view is not None:
            taken = LivePaths(view).taken(entry.path, self._share.root)
        if taken:
            raise UsageError(f"{taken}: write the deleted one elsewhere with --to OUT")
        return text

    def _view(self) -> ManifestView | None:
        """The share's manifest, None if it mirrors no folder."""
        mirror = self._share.mirror
        return mirror.mirror.view if mirror is not None else None

    def _entry(self, guid: str) -> Entry | None:
        view = self._view()
        return view.by_guid.get(guid) if view is not None else None

    def _is_chunked(self, guid: str) -> bool:
        entry = self._entry(guid)
        return entry is not None and entry.kind is FileKind.CHUNKED

    def _deleted_entry(self, guid: str) -> Entry | None:
        view = self._view()
        entry = view.by_guid.get(guid) if view is not None else None
        return entry if entry is not None and entry.deleted else None

    async def stored_versions(self, guid: str) -> list[Version]:
        """The timeline of doc ``guid`` as listed (oldest first), without loading the
        doc: from its writer if loaded, else from its file (empty if none)."""
        writer = self._share.logs.writers.get(guid)
        if writer is not None and writer.history is not None:
            return await writer.with_history(lambda history, _log: list(history.versions()))
        return await trio.to_thread.run_sync(
            load_timeline, versions_path(log_path(self._share.root, guid))
        )

    async def mark_version(self, guid: str, kind: str, device: str, old_path: str = "") -> None:
        """Record that the file of doc ``guid`` was deleted (``kind`` "delete"),
        came back from a deletion with the text its doc kept ("restore"), or moved
        from ``old_path`` ("rename"), by ``device``. Nothing if the timeline says so
        already (a deletion is its newest version, or a version came after it), nor
        a rename of a file whose timeline is empty (its first version comes with it)."""
        if guid not in self._share.sync.replica:
            return  # its doc never came here: no log to open, nothing it had
        with self._share.call():
            writer = await self._share.logs.writer(guid)
            if writer.history is None:
                return
            chunked = self._is_chunked(guid) and kind != "delete"
            entry, doc = self._entry(guid), self._share.doc(guid)
            size = None
            if entry is not None and entry.kind in WHOLE:  # no text read: a size
                size = whole_size(entry.kind, doc) if doc is not None and kind != "delete" else 0
            plain = kind == "delete" or chunked or size is not None
            text = "" if plain else self.current_text(guid)
            is_binary = entry is not None and entry.kind is FileKind.BINARY
            note = VersionNote(time.time(), device, kind, text, old_path, size, is_binary)

            def mark(history: DocHistory, doclog: DocLog) -> bool:
                versions = history.versions()
                newest = versions[-1].kind if versions else ""
                if kind == "rename" and not (versions and newest != "delete"):
                    return False
                if kind != "rename" and (kind == "delete") == (newest == "delete"):
                    return False
                if not chunked:
                    history.mark(note, doclog)
                return True

            if await writer.with_history(mark) and chunked:  # its text is kept apart
                await self.chunked.record(guid, kind, device, old_path)

    async def _history_writer(self, guid: str) -> LogWriter:
        """The writer of a text file's doc, refusing docs that keep no history."""
        view = self._view()
        entry = view.by_guid.get(guid) if view is not None else None
        if guid not in self._share.sync.replica or (entry is None and view is not None):
            moved = await self._renamed_from(guid, view) if view is not None else None
            if moved is not None:
                gone = " (deleted since)" if moved.deleted else ""
                raise NotFoundError(
                    f"share {self._share.name} has no file {guid!r}: it was renamed to "
                    f"{moved.path!r}{gone}, and its history goes on there"
                )
            raise self._no_file(guid, view)
        writer = await self._share.logs.writer(guid)
        if writer.history is None:
            raise UsageError(f"doc {guid!r} keeps no history")
        return writer

    async def _renamed_from(self, path: str, view: ManifestView) -> Entry | None:
        """The file last renamed away from share path ``path``, which holds no file
        now: of the renamed files (an entry records the path it was created at, its
        ``born``), one born there, or one whose timeline has a ``rename`` from there;
        the latest rename first. None if no file had that path before a rename."""
        renamed = [e for e in view.by_guid.values()
                   if e.born and not e.superseded_by and e.path != path]  # fmt: skip
        born = [e for e in renamed if e.born == path]
        found: list[tuple[float, Entry]] = []
        for entry in born or renamed:
            try:
                versions = await self.stored_versions(entry.guid)
            except (P2PSyncError, OSError):  # a damaged timeline: that file's own problem
                versions = []
            times = [v.time for v in versions if v.kind == "rename" and v.old_path == path]
            if times or entry.born == path:
                found.append((max(times, default=0.0), entry))
        if not found:
            return None
        return max(found, key=lambda pair: (pair[0], pair[1].order))[1]

    def _no_file(self, path: str, view: ManifestView | None) -> NotFoundError:
        """Why the share has no file at ``path`` to give the history of: ignored, a
        folder (live or deleted), or nothing there."""
        name = self._share.name
        mirror = self._share.mirror
        if mirror is not None and mirror.mirror.ignore.ignored(path, False):
            return NotFoundError(
                f"{path!r} is ignored by share {name} (its .p2psyncignore or the built-in "
                "rules): it is not synced, so it keeps no history"
            )
        if view is not None and _is_folder(view, path):
            return NotFoundError(
                f"{path!r} is a folder of share {name}, not a file: history and restore "
                "--version take a file (the folder as it was: restore FOLDER --at TIME; its "
                "deleted files: history --deleted FOLDER)"
            )
        return NotFoundError(f"share {name} has no file {path!r}")


def _no_version(number: int, numbers: list[int]) -> str:
    """Why a file whose versions are ``numbers`` has no version ``number``: not made
    yet, or dropped by the share's policy (numbers count up and are never reused)."""
    if not numbers or number > max(numbers):
        newest = f": its newest is {max(numbers)}" if numbers else " yet"
        return f"the file has no version {number}{newest} (see p2psync history)"
    return (
        f"version {number} of the file is no longer kept: the share's history policy "
        "dropped it ([shares.history] in the config; p2psync history lists those kept)"
    )


def _is_folder(view: ManifestView, path: str) -> bool:
    """Whether share path ``path`` is a folder of files, live or deleted."""
    entries = [*view.by_path, *(entry.path for entry in deleted_entries(view))]
    return any(under(entry, path) and entry != path for entry in entries)
