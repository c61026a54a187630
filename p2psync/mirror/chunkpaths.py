"""The paths of a large text file as chunked docs (``Mirror.chunkpaths``).

A chunked file is written from its unchanged byte ranges and its changed chunks
(``stream_chunked``), and its save read against its layout (``scan_save``), never
holding the file whole; an in-place patch that stopped midway (a crash) is found and
its file written again from its doc (``recover_patch``).
"""

from __future__ import annotations

import logging

import trio

from p2psync.errors import UnsafePathError
from p2psync.mirror.chunklist import LOST_REASON, lists_chunks, relisted
from p2psync.mirror.chunkscan import scan_save
from p2psync.mirror.fileio import (
    FileChangedError,
    FileStat,
    NotAFileError,
    local_stat,
    read_file,
    write_file,
)
from p2psync.mirror.host import Host
from p2psync.mirror.manifest import Entry
from p2psync.mirror.patch import (
    DigestMarks,
    PatchRecord,
    Recovery,
    TornFileError,
    load_records,
    recovery,
    remove_record,
    write_chunked,
)
from p2psync.mirror.records import Synced

log = logging.getLogger(__name__)


class ChunkPaths:
    """Writes and reads of chunked files without holding them (see the module doc)."""

    def __init__(self, m: Host) -> None:
        self.m = m
        self.patching: dict[str, PatchRecord] = load_records(m.root)
        """Chunked files whose in-place patch may have stopped midway (``mirror.patch``)."""
        self.digest_marks = DigestMarks()

    async def stream_chunked(self, rel: str, entry: Entry) -> bool:
        """Write a chunked file that is as last synced from its unchanged byte ranges
        and its changed chunks, never holding it whole (``chunkwrite.write_plan``).
        Returns False when this does not apply (saved here, a chmod, no layout of the
        file): the caller then reads the file as for any other. Nothing to write (the
        event of the mirror's own write) costs a stat."""
        synced = self._synced_here(rel, entry)
        if synced is None or synced.stat is None:
            return False
        try:
            stat = await trio.to_thread.run_sync(local_stat, self.m.root, rel)
        except (OSError, NotAFileError):
            return False
        if stat != synced.stat or stat.executable != entry.exec:
            return False
        parts = self.m.chunks.plan(entry.guid)
        if parts is None:  # nothing to write, if the layout is the file's
            return self.m.chunks.written_pieces(entry.guid) is not None
        await self.m.store.durable(entry.guid)
        pieces = [piece for piece, _ in parts]
        base = await self.m.ledger.layout_base(pieces)

        def prepare(tmp: FileStat, digest: bytes) -> None:
            self.m.synced.prepare(rel, Synced(entry.guid, digest, tmp), base)

        try:
            with self.m.problems.file_errors(
                f"write:{rel}", rel, then=lambda exc: self.m.ledger.write_failed(rel, exc)
            ) as failed:
                written, digest = await trio.to_thread.run_sync(
                    lambda: write_chunked(self.m.root, rel, parts, guid=entry.guid,
                                          executable=entry.exec, expect=stat,
                                          marks=self.digest_marks, prepared=prepare)
                )  # fmt: skip
        except FileChangedError:
            self.m.synced.abort(rel)
            self.m.retry.add(rel)  # saved meanwhile: merged on the next round
            return True
        except TornFileError as exc:
            log.error("share %s: %s; it is written again from its doc", self.m.share, exc)
            self.patching[rel] = exc.record
            self.m.retry.add(rel)
            return True
        if failed:
            return True
        self.m.chunks.synced(entry.guid, pieces)
        self.m.ledger.record(rel, entry.guid, b"", written, digest=digest, base=base)
        return True

    async def list_lost(self, rel: str, guid: str) -> bool:
        """Whether the chunked file ``rel`` (root ``guid``) is to be left as it is: its
        root is here and lists no chunk (``mirror.chunklist``: damage, never an edit;
        an emptied file keeps its chunks). The list is rebuilt from the layout the file
        was last synced with if it can be (then False: the file syncs as ever); else
        the file is reported, if it was synced here, and neither written nor read."""
        if lists_chunks(self.m.store, guid):
            return False
        layout = self.m.chunks.layouts.get(guid)
        held = layout.pieces if layout is not None else None
        pieces = held or self.m.ledger.stored_layout(guid) or []
        if await relisted(self.m.store, guid, pieces):
            log.warning("share %s: the root doc %s of %s had lost its list of chunks; "
                        "listed again from the file's last synced layout (%d chunks)",
                        self.m.share, guid, rel, len(pieces))  # fmt: skip
            return False
        if rel in self.m.synced:
            self.m.report(f"chunks:{rel}", "chunk-list-lost", path=rel, reason=LOST_REASON)
        return True

    def _synced_here(self, rel: str, entry: Entry) -> Synced | None:
        """The sync record of ``rel`` if it is of ``entry``'s doc and the name is there
        as spelled (on a case-insensitive folder only another spelling may be: a
        rename, which the whole read sees)."""
        synced = self.m.synced.get(rel)
        if synced is None or synced.guid != entry.guid:
            return None
        return None if self.m.names.folds and not self.m.exists_as(rel) else synced

    async def scan_save(self, rel: str, entry: Entry) -> bool:
        """A save of a chunked file as written here, read against its layout without
        holding the file (``chunkscan``): only the changed bytes are loaded and
        diffed. Returns False when this does not apply (a remote change pending, a
        chmod, the file not as expected): the caller reads the file whole."""
        synced = self._synced_here(rel, entry)
        pieces = self.m.chunks.written_pieces(entry.guid)
        if synced is None or synced.stat is None or pieces is None:
            return False
        marks = self.digest_marks.below(rel, synced.stat, synced.stat.size)
        try:
            scan = await trio.to_thread.run_sync(lambda: scan_save(self.m.root, rel, pieces, marks))
        except (OSError, NotAFileError, FileChangedError, UnsafePathError):
            return False
        if scan is None or scan.stat == synced.stat or scan.stat.executable != entry.exec:
            return False
        kept = (scan.lead, scan.trail)
        if not await self.m.chunks.save_scanned(entry.guid, pieces, kept, scan.middle):
            return False
        self.digest_marks.put(rel, scan.stat, scan.marks)
        base = await self.m.ledger.layout_base(self.m.chunks.layouts[entry.guid].pieces)
        self.m.ledger.record(rel, entry.guid, b"", scan.stat, digest=scan.digest, base=base)
        if self.m.chunks.pending(entry.guid):  # a peer's change merged in: write it too
            await self.stream_chunked(rel, entry)
        return True

    async def recover_patch(self, rel: str) -> bool:
        """A patch of ``rel`` may have stopped midway (``mirror.patch``): the file is
        not a local save. A torn one gets its doc written over it, then the record is
        dropped. False if that failed (the path waits for a later round)."""
        record = self.patching[rel]
        try:
            with self.m.problems.file_errors(f"write:{rel}", rel, also=(NotAFileError,)) as failed:
                found = await trio.to_thread.run_sync(recovery, self.m.root, record)
                if found is Recovery.TORN and not await self._rewrite_torn(rel, record):
                    return False
                if found is Recovery.COMPLETE:  # the daemon's own write, not a save
                    self.m.synced.put(rel, Synced(record.guid, record.digest, None))
                await trio.to_thread.run_sync(remove_record, self.m.root, rel)
        except FileChangedError:
            self.m.retry.add(rel)
            return False
        if failed:
            return False
        del self.patching[rel]
        return True

    async def _rewrite_torn(self, rel: str, record: PatchRecord) -> bool:
        """Write the doc of ``record`` over the torn file ``rel`` (atomically); False
        if its doc is not here (the file then waits, torn, for it)."""
        await self.m.store.durable(record.guid)
        got = await trio.to_thread.run_sync(read_file, self.m.root, rel)
        if got is None:
            return True
        if self.m.store.doc(record.guid) is None or await self.list_lost(rel, record.guid):
            return False
        data, stat = got
        self.m.chunks.forget(record.guid)
        content, pieces = self.m.chunks.content(record.guid, data)
        if content != data:
            stat = await trio.to_thread.run_sync(
                lambda: write_file(self.m.root, rel, content, executable=stat.executable,
                                   expect=stat)
            )  # fmt: skip
        log.warning("share %s: %s was being patched when the daemon stopped; it now holds "
                    "its doc %s again", self.m.share, rel, record.guid)  # fmt: skip
        self.m.chunks.synced(record.guid, pieces)
        digest = self.digest_marks.learn(rel, stat, content, [p.size for p in pieces])
        base = await self.m.ledger.layout_base(pieces)
        self.m.ledger.record(rel, record.guid, content, stat, digest=digest, base=base)
        return True
