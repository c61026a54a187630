"""The file history of a share's chunked (large) text files (docs/history.md).

A chunked file is a root doc listing chunk docs (``mirror.chunked``); its text is the
chunks' texts joined in the root's order. A change comes to one of its docs (a save
here, a peer's update, a restore), and ``ShareHistory.note`` hands it here: the file
it belongs to is noted as changed, with the chunk, and a task records one version of
it once the changes queued with it are applied, with the text as it is then, in the
timeline beside the root's log (``DocHistory.note_chunks``; the text is kept apart,
chunk by chunk, ``storage.versiontexts``). Only the chunks changed since the newest
version are read (and loaded): the others hold what it names (every chunk is read at
a file's first version after the daemon starts, for a change whose version a crash
lost). Changes that arrive while it records make the next version. A restore edits
the chunks as a save does: the change from the current text back to the version's,
made by fresh clients, so it merges with concurrent edits.
"""

from __future__ import annotations

import logging
import time

import trio

from p2psync.daemon.historyshare import HistoryShare
from p2psync.errors import P2PSyncError, UsageError
from p2psync.mirror.chunked import CHUNK_GUID, CONTENT, ChunkedText, chunk_order
from p2psync.mirror.chunkfile import ScratchDocs
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.textdiff import changed_regions
from p2psync.replica.doc import DocReplica
from p2psync.storage.doclog import DocLog
from p2psync.storage.history import DocHistory, VersionNote

log = logging.getLogger(__name__)


class ChunkedHistory:
    """The versions of one share's chunked files (see the module docstring)."""

    def __init__(self, share: HistoryShare) -> None:
        self._share = share
        self._pending: dict[str, tuple[str, str]] = {}
        """Root guid -> (kind, device) of the changes not recorded yet."""
        self._recording: set[str] = set()
        self._touched: dict[str, set[str]] = {}
        """Root guid -> its docs changed since its newest version."""
        self._read_whole: set[str] = set()
        """Roots whose every chunk was read since the daemon started: before that, a
        change whose version a crash lost may be in any chunk."""

    def root_of(self, guid: str) -> str | None:
        """The root doc of the chunked file doc ``guid`` belongs to (itself, for a
        root), None if it belongs to none."""
        mirror = self._share.mirror
        if mirror is None:
            return None
        view = mirror.mirror.view
        entry = view.by_guid.get(guid)
        if entry is not None:
            return guid if entry.kind is FileKind.CHUNKED else None
        if not CHUNK_GUID.fullmatch(guid):
            return None
        roots = (g for g, e in view.by_guid.items() if e.kind is FileKind.CHUNKED)
        return mirror.mirror.chunks.owner_of(guid, roots)

    def changed(self, guid: str, kind: str, device: str) -> bool:
        """Doc ``guid`` is about to store a change of ``kind`` by ``device``: if it is a
        chunked file's, its version is recorded soon (True), else False."""
        root = self.root_of(guid)
        nursery = self._share.logs.nursery
        if root is None or nursery is None:
            return False
        earlier = self._pending.get(root)
        restore = earlier is not None and earlier[0] == "restore"
        self._pending[root] = ("restore" if restore else kind, device)
        self._touched.setdefault(root, set()).add(guid)
        if root not in self._recording:
            self._recording.add(root)
            nursery.start_soon(self._record, root)
        return True

    async def _record(self, root: str) -> None:
        """Record the versions of ``root``'s file while changes are pending."""
        try:
            await trio.lowlevel.checkpoint()  # the change that woke it is applied first
            while root in self._pending:
                kind, device = self._pending.pop(root)
                try:
                    with self._share.call():  # refused once the share stops
                        await self.record(root, kind, device)
                except UsageError:
                    return  # the share stopped
                except (P2PSyncError, OSError) as exc:
                    log.error("share %s: a version of chunked file %s is not in its history: %s",
                              self._share.name, root, exc)  # fmt: skip
        finally:
            self._recording.discard(root)

    async def record(self, root: str, kind: str, device: str, old_path: str = "") -> None:
        """Record the text of ``root``'s file now as a version of ``kind`` by ``device``
        (``old_path``: a rename's)."""
        writer = await self._share.logs.writer(root)
        doc = self._share.doc(root)
        if writer.history is None or doc is None:
            return
        order = chunk_order(doc.ydoc, root)
        if not order:  # a root always lists a chunk: it lost its list (mirror.chunklist)
            log.warning("share %s: no version of chunked file %s is recorded: its root lists "
                        "no chunks", self._share.name, root)  # fmt: skip
            return
        held: set[str] = set()
        if root in self._read_whole:
            held = await writer.with_history(lambda history, _log: history.chunk_guids())
        self._read_whole.add(root)
        touched = self._touched.pop(root, set())
        chunks = [
            (guid, None if guid in held and guid not in touched else _text(self._share.doc(guid)))
            for guid in order
        ]
        note = VersionNote(time.time(), device, kind, "", old_path)

        def record(history: DocHistory, doclog: DocLog) -> None:
            history.note_chunks(note, chunks, doclog)

        await writer.with_history(record)

    def text(self, root: str) -> str:
        """The file's text now, its chunks loaded as needed ("" if its root doc is
        not here)."""
        doc = self._share.doc(root)
        if doc is None:
            return ""
        return "".join(_text(self._share.doc(guid)) for guid in chunk_order(doc.ydoc, root))

    async def restore(self, root: str, text: str) -> bool:
        """Edit ``root``'s file so that it reads ``text``: the change from its text now,
        routed to the chunks as a save is, made by fresh clients and stored as a
        ``restore`` (sent to peers, written to the file). False if it reads so already."""
        mirror = self._share.mirror
        old = self.text(root)
        if mirror is None or old == text:
            return False
        scratch = ScratchDocs(_RestoreStore(self._share))
        chunked = ChunkedText(scratch(root), root, scratch,
                              max_bytes=mirror.mirror.chunking.chunk_bytes)  # fmt: skip
        for a0, a1, b0, b1 in reversed(changed_regions(old, text)):
            chunked.replace(a0, a1, text[b0:b1])
        await scratch.store(root)
        return True


def _text(doc: DocReplica | None) -> str:
    return doc.text(CONTENT) if doc is not None else ""


class _RestoreStore:
    """The share as ``ScratchDocs`` stores a restore's updates: as ``restore``
    changes that the mirror writes to the file."""

    def __init__(self, share: HistoryShare) -> None:
        self._share = share

    def doc(self, guid: str) -> DocReplica | None:
        return self._share.doc(guid)

    async def local_update(self, guid: str, update: bytes, *, notify: bool = True) -> None:
        del notify  # the mirror is told: it writes the file
        await self._share.local_update(guid, update, kind="restore")
