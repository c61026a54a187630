"""Saves here into docs, and docs out to files (``Mirror.saves``).

``local_save`` stores a file's change in its doc: a one-doc text file's as the
smallest edits, merged against the recorded base when the doc moved since
(``apply_save``); a binary file's as a new version; a chunked file's by the chunks
it changed; a text file saved past the chunking threshold becomes chunked in place.
``write_doc`` writes a doc's content to its file, its record written ahead, and never
over a save made meanwhile.
"""

from __future__ import annotations

import logging
from pathlib import Path

import trio

from p2psync.mirror import binary
from p2psync.mirror.chunkfile import Piece, decode_large_text
from p2psync.mirror.chunkpaths import ChunkPaths
from p2psync.mirror.content import (
    CONTENT,
    merge_save,
    short_device,
    text_update,
)
from p2psync.mirror.fileio import (
    FileChangedError,
    FileStat,
    set_executable,
    write_file,
)
from p2psync.mirror.host import Host
from p2psync.mirror.kinds import FileKind, decode_text, file_digest
from p2psync.mirror.manifest import Entry, set_fields
from p2psync.mirror.overwrite import RecentWrites
from p2psync.mirror.records import Synced, version_key
from p2psync.mirror.store import Peer
from p2psync.mirror.ydocfile import DeferredWrites, merge_delta, merge_problem
from p2psync.replica.doc import DocReplica

log = logging.getLogger(__name__)


class Saves:
    """Moves content between a file and its doc, either way (see the module doc)."""

    def __init__(self, m: Host, chunkpaths: ChunkPaths) -> None:
        self.m = m
        self.chunkpaths = chunkpaths
        self.recent = RecentWrites()
        """The mirror's recent writes of text files, to spot a save that overwrote one."""
        self.ydocs = DeferredWrites()
        """When each app doc's file may be written again (``mirror.ydocfile``)."""

    async def local_save(
        self,
        rel: str,
        entry: Entry,
        disk: tuple[bytes, FileStat],
        synced: Synced | None,
        peer: Peer | None,
    ) -> None:
        """The file changed since the last sync (or was never synced with this doc)."""
        data, stat = disk
        doc = self.m.store.doc(entry.guid)
        if doc is None:
            return  # the doc has not arrived: reconciled when it does
        guid = entry.guid
        if stat.executable != entry.exec:
            await self.m.keeper.edit(lambda d: set_fields(d, guid, exec=stat.executable))
            entry = self.m.view.by_guid[guid]
        if entry.kind is FileKind.YDOC:
            await self.ydoc_save(rel, entry, doc, disk, peer)
            return
        if entry.kind is FileKind.TEXT and self.m.chunks.outgrows(data):
            await self.outgrown_save(rel, entry, disk, synced, peer)
            return
        if entry.kind is FileKind.CHUNKED:
            await self.chunked_save(rel, entry, disk, synced, peer)
            return
        text = decode_text(data)
        if entry.kind is FileKind.BINARY or text is None:
            await self._binary_save(rel, entry, doc, data, stat)
            return
        current = doc.text(CONTENT)
        if synced is None:
            if current != text and doc.version().state_vector:
                # A file that was never synced meets a doc with content (its folder
                # was shared again without our state): keep the file's text aside,
                # the doc wins, nothing is doubled.
                kept = await self.m.keep(rel, "local", data)
                self.m.publish("path-conflict", share=self.m.share, path=rel, kept=str(kept))
            await self.write_doc(rel, entry, data, stat, peer)
            return
        if current != text:
            await self.apply_save(rel, entry, disk, synced, peer)
        await self.write_doc(rel, entry, data, stat, peer)

    async def apply_save(
        self,
        rel: str,
        entry: Entry,
        disk: tuple[bytes, FileStat],
        synced: Synced,
        peer: Peer | None,
    ) -> None:
        """Store a save of a one-doc text file in its doc. If the doc changed since the
        file was synced (a peer's edit, another program's append, while the daemon ran
        or was down), the save is diffed against the merge base and merged as a
        concurrent edit; else it is diffed against the doc, by the doc's own client.
        The new record (the save's digest, the base after it) is written ahead of the
        doc's update, so a crash between the two loses neither."""
        data, stat = disk
        text = data.decode()
        doc = self.m.store.doc(entry.guid)
        assert doc is not None
        current = doc.text(CONTENT)
        overwritten = self.recent.overwritten(rel, data, trio.current_time())
        if overwritten is not None:
            kept = await self.m.keep(rel, "overwritten", overwritten)
            log.warning("share %s: a save of %s dropped lines the daemon had just written "
                        "(a program wrote back an older copy?); what it overwrote is kept at %s",
                        self.m.share, rel, kept)  # fmt: skip
            self.m.publish("path-conflict", share=self.m.share, path=rel, kept=str(kept))
        base = b""
        if file_digest(current.encode()) != synced.digest:
            base = await trio.to_thread.run_sync(self.m.synced.base, rel)
            if not base:
                log.warning("share %s: %s has no merge base (synced by an older version); "
                            "the save replaces the doc's text", self.m.share, rel)  # fmt: skip
        if base:
            live = doc.full_state()
            update, after = await trio.to_thread.run_sync(merge_save, base, text, live)
        else:
            state, client = doc.full_state(), doc.ydoc.client_id
            update, after = await trio.to_thread.run_sync(text_update, state, text, client)
        ahead = Synced(entry.guid, file_digest(data), stat)
        await trio.to_thread.run_sync(lambda: self.m.synced.prepare(rel, ahead, after, save=True))
        await self.m.store.local_update(entry.guid, update, notify=False)
        self.m.synced.commit(rel)
        if base:
            log.info("share %s: a save of %s merged with changes from %s", self.m.share, rel,
                     peer or "another program")  # fmt: skip
            self.m.publish("file-merged", share=self.m.share, path=rel, peer=str(peer or ""))
        else:  # the trail of a file's saves, for a soak's report
            log.debug("share %s: a save of %s taken in (%d bytes, inode %d)",
                      self.m.share, rel, len(data), stat.ino)  # fmt: skip

    async def ydoc_save(
        self,
        rel: str,
        entry: Entry,
        doc: DocReplica,
        disk: tuple[bytes, FileStat],
        peer: Peer | None,
    ) -> None:
        """An app doc's file written by another program: its bytes are merged into
        the doc as an update (nothing the doc holds is removed), then the doc's whole
        state is written back. Bytes that are not a Yjs doc change nothing: the file
        is reported and left as it is."""
        data, stat = disk
        problem = merge_problem(data, doc.state_vector())
        delta = None
        if problem is None:
            try:
                delta = await trio.to_thread.run_sync(merge_delta, doc.full_state(), data)
            except ValueError as exc:
                problem = str(exc)
        if problem is not None:
            self.m.report(f"ydoc:{rel}", "file-skipped", path=rel, reason=problem)
            return
        if delta is not None:
            await self.m.store.local_update(entry.guid, delta, notify=False)
            log.info("share %s: %s written by another program; merged into its doc",
                     self.m.share, rel)  # fmt: skip
        await self.write_doc(rel, entry, data, stat, peer)

    async def _binary_save(
        self, rel: str, entry: Entry, doc: DocReplica, data: bytes, stat: FileStat
    ) -> None:
        if entry.kind is FileKind.TEXT:
            reason = "a text file became binary; it is not synced until it is text again"
            self.m.report(f"kind:{rel}", "file-skipped", path=rel, reason=reason)
            return
        now = binary.current(doc.ydoc)
        if now is None or now.data != data:
            stamp = self.m.clock.tick_after(now.stamp) if now is not None else self.m.clock.tick()
            await self.m.store.local_edit(entry.guid, lambda d: binary.put(d, stamp, data))
        await self.write_doc(rel, entry, data, stat, None)

    async def write_doc(
        self,
        rel: str,
        entry: Entry,
        data: bytes | None,
        stat: FileStat | None,
        peer: Peer | None,
    ) -> None:
        """Write the doc's content to ``rel`` if the disk (``data``, read at ``stat``;
        None: no file) differs, then record it as synced. The record of the new
        content is written ahead of the file (``SyncTable.prepare``): after a crash
        the file is recognised as the daemon's write, never read as a save."""
        doc = self.m.store.doc(entry.guid)
        if doc is None:
            return
        if entry.kind is FileKind.YDOC and self._held_back(rel, doc, data):
            return  # written when due (``Mirror.flush``)
        pieces: list[Piece] = []
        base = b""
        if entry.kind is FileKind.BINARY:
            found = await self._binary_content(rel, entry, doc)
            if found is None:
                return
            content = found
            version = version_key(doc.version())  # the doc holds ``content`` now
        elif entry.kind is FileKind.CHUNKED:
            synced = self.m.synced.get(rel)
            as_synced = synced is not None and synced.guid == entry.guid and synced.stat == stat
            content, pieces = self.m.chunks.content(entry.guid, data, as_synced=as_synced)
            # Written, or not yet recorded as it is: else the record's layout stands.
            base = (
                await self.m.ledger.layout_base(pieces) if content != data or not as_synced else b""
            )
            version = b""
        else:
            ydoc = entry.kind is FileKind.YDOC  # the file is the doc's whole state
            content = doc.full_state() if ydoc else doc.text(CONTENT).encode()
            # The base is the doc at this very moment (no await since the text was read).
            base = doc.full_state() if content != data and not ydoc else b""
            version = version_key(doc.version())
        if content != data or (stat is not None and stat.executable != entry.exec):
            # A file written before its doc is durable could, after a crash, be read
            # back as a local edit of text the doc no longer holds: a duplicate.
            await self.m.store.durable(entry.guid)
            try:
                with self.m.problems.file_errors(
                    f"write:{rel}", rel, then=lambda exc: self.m.ledger.write_failed(rel, exc)
                ) as failed:
                    if content != data:
                        ahead = Synced(entry.guid, file_digest(content), None, version)
                        stat = await self._replace(rel, entry, (content, stat), ahead, base)
                        self.m.names.listed(self.m.listings, rel, present=True)
                        self._wrote(rel, entry, data, content)
                    elif stat is not None:
                        stat = await trio.to_thread.run_sync(
                            lambda: set_executable(self.m.root, rel, entry.exec, expect=stat)
                        )
            except FileChangedError:
                self.m.synced.abort(rel)
                self.m.retry.add(rel)  # saved meanwhile: merged on the next round
                return
            if failed:
                return
        assert stat is not None
        digest = None
        if entry.kind is FileKind.CHUNKED:
            self.m.chunks.synced(entry.guid, pieces)
            # The hash states at the chunk boundaries let a later patch digest its tail only.
            digest = self.chunkpaths.digest_marks.learn(
                rel, stat, content, [p.size for p in pieces]
            )
        self.m.ledger.record(rel, entry.guid, content, stat, doc, digest=digest,
                             base=base or None, version=version)  # fmt: skip

    def _held_back(self, rel: str, doc: DocReplica, data: bytes | None) -> bool:
        """Whether the write of app doc ``rel``'s new state waits (``DeferredWrites``)."""
        if data is None or doc.full_state() == data:
            return False
        return self.ydocs.defer(rel, trio.current_time())

    def _wrote(self, rel: str, entry: Entry, data: bytes | None, content: bytes) -> None:
        """The mirror wrote ``content`` over ``data`` at ``rel``: remembered for the
        checks of the next saves and writes."""
        if entry.kind is FileKind.TEXT:
            self.recent.wrote(rel, data or b"", content, trio.current_time())
        elif entry.kind is FileKind.YDOC:
            self.ydocs.wrote(rel, trio.current_time())

    async def _replace(
        self,
        rel: str,
        entry: Entry,
        write: tuple[bytes, FileStat | None],
        ahead: Synced,
        base: bytes,
    ) -> FileStat:
        """Replace the file at ``rel`` (last read at ``write[1]``) with ``write[0]``,
        the record ``ahead`` (with merge base ``base``) written ahead of the rename; a
        program's write raced by the rename is taken in (``_raced_write``)."""
        content, expect = write
        raced: list[bytes] = []

        def prepare(tmp: FileStat) -> None:
            self.m.synced.prepare(rel, ahead._replace(stat=tmp), base)

        stat = await trio.to_thread.run_sync(
            lambda: write_file(self.m.root, rel, content, executable=entry.exec,
                               expect=expect, prepared=prepare, raced=raced.append)
        )  # fmt: skip
        if raced:
            await self._raced_write(rel, entry, raced[0])
        return stat

    async def _raced_write(self, rel: str, entry: Entry, data: bytes) -> None:
        """A program wrote to ``rel`` as the daemon replaced it: ``data`` is what the
        replaced file held then. A text file's is a save of the file as last synced,
        merged against that record's base (still the record: the write's is not
        committed yet) and written back on the next round; any other is kept aside."""
        base = await trio.to_thread.run_sync(self.m.synced.base, rel)
        text = decode_text(data)
        doc = self.m.store.doc(entry.guid)
        if entry.kind is FileKind.TEXT and base and text is not None and doc is not None:
            live = doc.full_state()
            update, _ = await trio.to_thread.run_sync(merge_save, base, text, live)
            await self.m.store.local_update(entry.guid, update, notify=False)
            self.m.retry.add(rel)
            log.info("share %s: a program wrote to %s while the daemon replaced it; its "
                     "write is merged", self.m.share, rel)  # fmt: skip
            self.m.publish("file-merged", share=self.m.share, path=rel, peer="")
            return
        kept = await self.m.keep(rel, "overwritten", data)
        log.warning("share %s: a program wrote to %s while the daemon replaced it; what it "
                    "wrote is kept at %s", self.m.share, rel, kept)  # fmt: skip
        self.m.publish("path-conflict", share=self.m.share, path=rel, kept=str(kept))

    async def _binary_content(self, rel: str, entry: Entry, doc: DocReplica) -> bytes | None:
        """The bytes a binary file is to hold (None: no version yet), after keeping the
        concurrent versions that lost."""
        for lost in await self._binary_conflicts(rel, entry, doc):
            log.warning("share %s: a concurrent version of %s lost to a later one; kept "
                        "at %s", self.m.share, rel, lost)  # fmt: skip
            self.m.publish("version-conflict", share=self.m.share, path=rel, kept=str(lost))
        version = binary.current(doc.ydoc)
        return None if version is None else version.data

    async def _binary_conflicts(self, rel: str, entry: Entry, doc: DocReplica) -> list[Path]:
        """Concurrent versions of a whole file that lost: kept, then removed."""
        losers = binary.losers(doc.ydoc)
        if not losers:
            return []
        kept = []
        for version in losers:
            device = short_device(binary.device_of(version.key))
            kept.append(await self.m.keep(rel, "lost", version.data, device=device))
        await self.m.store.local_edit(entry.guid, lambda d: binary.drop(d, losers))
        return kept

    async def outgrown_save(
        self,
        rel: str,
        entry: Entry,
        disk: tuple[bytes, FileStat],
        synced: Synced | None,
        peer: Peer | None,
    ) -> None:
        """A one-doc text file saved past the chunking threshold: its doc becomes a
        chunked root in place, its text the first chunk (``chunkfile.convert``), so
        nothing moves and a peer still editing it as one doc merges; the manifest
        entry's kind becomes ``chunked``. The save is then a chunked file's save,
        unless a peer's change is not written yet: then it is merged into the text as
        for any text file first (the new chunks' layout has no base to merge with)."""
        guid, doc = entry.guid, self.m.store.doc(entry.guid)
        pending = bool(doc and synced and file_digest(doc.text(CONTENT).encode()) != synced.digest)
        if pending:
            assert synced is not None
            await self.apply_save(rel, entry, disk, synced, peer)
        await self.m.chunks.convert(guid)
        await self.m.keeper.edit(lambda d: set_fields(d, guid, kind=FileKind.CHUNKED.value))
        log.info("share %s: %s outgrew one doc and is now a chunked file", self.m.share, rel)
        entry = self.m.view.by_guid[guid]
        if pending:
            await self.write_doc(rel, entry, disk[0], disk[1], peer)
        else:
            await self.chunked_save(rel, entry, disk, synced, peer)

    async def chunked_save(
        self,
        rel: str,
        entry: Entry,
        disk: tuple[bytes, FileStat],
        synced: Synced | None,
        peer: Peer | None,
    ) -> None:
        """A local save of a chunked file: edits of the chunks it changed (see
        ``mirror.chunkfile``); kept aside when it cannot be merged."""
        data, stat = disk
        text = decode_large_text(data)
        if text is None:
            reason = "a large text file became binary; it is not synced until it is text again"
            self.m.report(f"kind:{rel}", "file-skipped", path=rel, reason=reason)
            return
        merged = synced is not None and await self.m.chunks.save(entry.guid, data)
        log.debug("share %s: a save of %s taken in as chunks of %s (%d bytes, inode %d; %s)",
                  self.m.share, rel, entry.guid, len(data), stat.ino,
                  "merged" if merged else "not merged")  # fmt: skip
        if not merged and self.m.chunks.content(entry.guid, data)[0] != data:
            # Never synced with this doc, or saved over a chunk a peer changed meanwhile:
            # the doc wins, the save is kept whole, nothing is doubled.
            kept = await self.m.keep(rel, "local", data)
            log.warning("share %s: a save of %s could not be merged with a change from %s; "
                        "kept at %s", self.m.share, rel, peer or "a peer", kept)  # fmt: skip
            self.m.publish("path-conflict", share=self.m.share, path=rel, kept=str(kept))
        await self.write_doc(rel, entry, data, stat, peer)
