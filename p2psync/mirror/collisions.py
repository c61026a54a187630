"""Paths two entries claim (``Mirror.collisions``).

Two devices that create one path make two entries: the later ones are retired and
their content kept aside where it differs (``resolve``, ``superseded``). A loser that
is mostly the winner's lines is a save of the winner's file that became a second doc
(a save racing a peer's delete or rename): the device that created it also merges
its lines into the winner (``mirror.union``), so they reach every device. On a
case-insensitive folder, an entry whose path is one file with an earlier entry's is
hidden: its content is kept under ``.p2psync/conflicts/`` and its file makes way
(``settle_hidden``). A file taken in twice whose later copy moved before the two
met (``ManifestView.twins``) is one file with the earlier one, which takes the
copy's path (``settle_twins``).
"""

from __future__ import annotations

import logging

import trio

from p2psync.mirror.chunkfile import decode_large_text
from p2psync.mirror.conflicts import keep_copy
from p2psync.mirror.content import short_device, text_update
from p2psync.mirror.fileio import (
    FileChangedError,
    NotAFileError,
    read_file,
    remove_file,
)
from p2psync.mirror.host import Host
from p2psync.mirror.kinds import FileKind, decode_text, file_digest
from p2psync.mirror.manifest import Entry, set_fields
from p2psync.mirror.records import Synced
from p2psync.mirror.renames import RENAME_SIMILARITY, alike
from p2psync.mirror.saves import Saves
from p2psync.mirror.store import YDoc
from p2psync.mirror.union import line_union
from p2psync.mirror.ydocfile import merge_delta, merge_problem
from p2psync.replica.doc import DocReplica

log = logging.getLogger(__name__)


class Collisions:
    """Settles paths two entries claim (see the module doc)."""

    def __init__(self, m: Host, saves: Saves) -> None:
        self.m = m
        self.saves = saves
        self._hidden_kept: dict[str, bytes] = {}
        """Hidden entry guid -> digest of the copy kept of it under conflicts/."""

    async def resolve(self) -> None:
        """Live entries that lost their path to an earlier one: keep their text aside
        when it differs from the winner's, then retire them. A pair is settled once
        both docs are here: a loser retired by a device without its doc would be
        retired as of no state, and every device holding its content would read
        that content as an edit made after the retirement and bring it back."""
        retire: list[tuple[str, str, bytes, str]] = []
        for loser, winner in self.m.view.shadowed:
            synced = self.m.synced.get(loser.path)
            loser_doc = self.m.store.doc(loser.guid)
            winner_doc = self.m.store.doc(winner.guid)
            if loser_doc is None or winner_doc is None:
                continue  # its content has not arrived: decide once it has
            ours = self.m.doc_bytes(loser, loser_doc)
            if ours is not None and ours != self.m.doc_bytes(winner, winner_doc):
                await self._keep_loser(loser.path, loser, ours)
                await self._merge_own_loser(loser, ours, winner)
            if synced is not None and synced.guid == loser.guid:
                # The disk holds the loser as synced: the winner replaces it as a
                # remote change would.
                self.m.synced.put(loser.path, synced._replace(guid=winner.guid), b"")
            retire.append((loser.path, loser.guid, loser_doc.state_vector(), winner.guid))
        if retire:

            def retire_all(doc: YDoc) -> None:
                for _, guid, state, winner in retire:
                    set_fields(doc, guid, deleted=True, deleted_at=state, superseded_by=winner)

            await self.m.keeper.edit(retire_all)
            for path in sorted({path for path, _, _, _ in retire}):
                await self.m.reconcile(path)

    async def settle_twins(self) -> None:
        """Twins (``ManifestView.twins``: a file taken in twice, the later copy moved
        since) whose texts are alike are one file: the elder takes the twin's path,
        the twin is retired as a collision's loser is (its text kept aside if it holds
        lines the elder's lacks), so the move reaches every device as the elder's rename and the
        elder's path is not written again. Twins not alike are two files; they stay."""
        settle: list[tuple[Entry, Entry, bytes]] = []
        for twin, elder in self.m.view.twins:
            twin_doc, elder_doc = self.m.store.doc(twin.guid), self.m.store.doc(elder.guid)
            if twin_doc is None or elder_doc is None:
                continue  # its content has not arrived: decide once it has
            ours, theirs = self.m.doc_bytes(twin, twin_doc), self.m.doc_bytes(elder, elder_doc)
            if ours is None or theirs is None or not _one_file(ours, theirs):
                continue
            if not _holds_all_of(theirs, ours):
                await self._keep_loser(twin.path, twin, ours)
                await self._merge_own_loser(twin, ours, elder)
            synced = self.m.synced.get(twin.path)
            if synced is not None and synced.guid == twin.guid:
                self.m.synced.put(twin.path, synced._replace(guid=elder.guid), b"")
            log.info("share %s: %s was taken in twice, and moved to %s; the copy is one "
                     "file with it", self.m.share, elder.path, twin.path)  # fmt: skip
            settle.append((twin, elder, twin_doc.state_vector()))
        if not settle:
            return

        def merge(doc: YDoc) -> None:
            for twin, elder, state in settle:
                born = {} if elder.born else {"born": elder.path}  # its first rename
                set_fields(doc, elder.guid, path=twin.path, **born)
                set_fields(doc, twin.guid, deleted=True, deleted_at=state, superseded_by=elder.guid)

        await self.m.keeper.edit(merge)
        for twin, _, _ in settle:
            await self.m.reconcile(twin.path)

    async def _keep_loser(self, path: str, loser: Entry, data: bytes) -> None:
        """Keep ``data``, the version of ``path`` of the entry that lost it, as a copy
        named after the device that created that entry."""
        device = short_device(loser.created.device)
        kept = await self.m.keep(path, "collision", data, device=device)
        log.warning("share %s: %s was created on two devices; the version that lost is "
                    "kept at %s", self.m.share, path, kept)  # fmt: skip
        self.m.publish("path-conflict", share=self.m.share, path=path, kept=str(kept))

    async def _merge_own_loser(self, loser: Entry, data: bytes, winner: Entry) -> None:
        """If this device created ``loser`` (whose text is ``data``) and it is a version
        of the winner's file (``line_union``), merge its lines the winner lacks into
        the winner's doc (or, for a chunked file, its chunks) as a local edit. Only
        the creator does, so the lines are inserted once; doing it again inserts
        nothing."""
        if loser.created.device != self.m.clock.device:
            return
        winner_doc = self.m.store.doc(winner.guid)
        if winner_doc is not None and winner.kind is FileKind.YDOC:
            await self._merge_app_doc(winner, winner_doc, data)
            return
        chunked = winner.kind is FileKind.CHUNKED
        if winner_doc is None or not (chunked or winner.kind is FileKind.TEXT):
            return
        text = decode_large_text(data) if chunked else decode_text(data)
        held_bytes = self.m.doc_bytes(winner, winner_doc)
        if text is None or held_bytes is None:
            return
        held = held_bytes.decode()
        union = line_union(held, text)
        if union is None or union == held:
            return
        if chunked:
            await self.m.chunks.edit(winner.guid, held, union)
        else:
            state, client = winner_doc.full_state(), winner_doc.ydoc.client_id
            update, _ = await trio.to_thread.run_sync(text_update, state, union, client)
            await self.m.store.local_update(winner.guid, update, notify=False)
        log.info("share %s: the version of %s that lost its path is a save of it; its "
                 "lines are merged into the file", self.m.share, winner.path)  # fmt: skip
        self.m.publish("file-merged", share=self.m.share, path=winner.path, peer="")

    async def _merge_app_doc(self, winner: Entry, winner_doc: DocReplica, data: bytes) -> None:
        """An app doc created here lost its path (``data``: its doc's state): the
        winner's doc takes what it adds, as a file copied over it would."""
        if merge_problem(data, winner_doc.state_vector()) is not None:
            return
        delta = await trio.to_thread.run_sync(merge_delta, winner_doc.full_state(), data)
        if delta is None:
            return
        await self.m.store.local_update(winner.guid, delta, notify=False)
        log.info("share %s: the app doc %s created here lost its path; it is merged into "
                 "the one that won", self.m.share, winner.path)  # fmt: skip
        self.m.publish("file-merged", share=self.m.share, path=winner.path, peer="")

    async def superseded(self, rel: str, loser: Entry, synced: Synced) -> None:
        """The entry this path was synced with lost its path to another device's (which
        retired it): keep this device's bytes if they differ, then take the winner."""
        winner = self.m.view.by_guid.get(loser.superseded_by)
        winner_doc = self.m.store.doc(winner.guid) if winner is not None else None
        if winner is None or winner_doc is None or self.m.view.by_path.get(rel) is not winner:
            return  # the winner's content has not arrived: decide once it has
        with self.m.problems.file_errors(f"read:{rel}", rel, also=(NotAFileError,)) as failed:
            got = await trio.to_thread.run_sync(read_file, self.m.root, rel)
        if failed:
            return
        held = self.m.doc_bytes(winner, winner_doc)
        twin = bool(loser.born) and loser.born != loser.path  # ``settle_twins``
        if got is not None and got[0] != held and not (twin and _holds_all_of(held, got[0])):
            await self._keep_loser(rel, loser, got[0])
            await self._merge_own_loser(loser, got[0], winner)
        self.m.synced.put(rel, synced._replace(guid=winner.guid), b"")
        await self.m.reconcile(rel)

    async def settle_hidden(self) -> None:
        """Entries that are, on this filesystem, one file with an earlier entry's path
        (``README.md`` after ``readme.md``, here case-insensitive): the winner has the
        file; the other keeps its path in the manifest, where peers that tell the two
        apart write both, and a copy of its content under ``.p2psync/conflicts/``.
        If this folder held the other one's file, a save made to it since the last
        sync goes into its doc first, its bytes are kept if its doc still does not
        hold them, and the file makes way for the winner's."""
        for entry, winner in self.m.view.hidden:
            synced = self.m.synced.get(entry.path)
            if synced is not None and synced.guid == entry.guid:
                await self._make_way(entry, synced)
            await self.keep_hidden(entry, winner)

    async def _make_way(self, entry: Entry, synced: Synced) -> None:
        rel = entry.path
        try:
            with self.m.problems.file_errors(f"del:{rel}", rel, also=(NotAFileError,)) as failed:
                got = await trio.to_thread.run_sync(self.m.read_exact, rel)
                if got is not None and not synced.holds(got[0]):
                    await self.saves.local_save(rel, entry, got, synced, None)
                    got = await trio.to_thread.run_sync(self.m.read_exact, rel)
                if got is not None:
                    data, stat = got
                    if data != self.m.doc_bytes(entry, self.m.store.doc(entry.guid)):
                        kept = await self.m.keep(rel, "local", data)
                        self.m.publish(
                            "path-conflict", share=self.m.share, path=rel, kept=str(kept)
                        )
                    self.m.listings.clear()
                    await trio.to_thread.run_sync(
                        lambda: remove_file(self.m.root, rel, expect=stat)
                    )
        except FileChangedError:
            return  # saved meanwhile: the next batch tries again
        if failed:
            return
        log.info("share %s: %s makes way for an earlier entry of the same name in another "
                 "case", self.m.share, rel)  # fmt: skip
        self.m.synced.pop(rel)

    async def keep_hidden(self, entry: Entry, winner: Entry) -> None:
        """Keep (or refresh) the copy of a hidden entry's content, and say so once."""
        data = self.m.doc_bytes(entry, self.m.store.doc(entry.guid))
        if data is None:
            return
        digest = file_digest(data)
        if self._hidden_kept.get(entry.guid) == digest:
            return
        kept = await trio.to_thread.run_sync(
            lambda: keep_copy(
                self.m.root, entry.path, "case", data, device=entry.guid, refresh=True
            )
        )
        self._hidden_kept[entry.guid] = digest
        self.m.report(f"case:{entry.guid}:{entry.path}:{winner.path}", "case-collision",
                      path=entry.path, winner=winner.path, kept=str(kept))  # fmt: skip


def _one_file(ours: bytes, theirs: bytes) -> bool:
    """Whether two docs' contents are one file's: equal, or texts alike as a rename's
    are (``renames.RENAME_SIMILARITY``)."""
    if ours == theirs:
        return True
    a, b = decode_text(ours), decode_text(theirs)
    if a is None or b is None:
        return False
    return alike(set(a.splitlines()), set(b.splitlines())) >= RENAME_SIMILARITY


def _holds_all_of(theirs: bytes | None, ours: bytes) -> bool:
    """Whether ``theirs`` holds every line of ``ours`` (equal bytes, or texts whose
    line union is ``theirs``): keeping ``ours`` aside would keep nothing more."""
    if theirs is None:
        return False
    if theirs == ours:
        return True
    a, b = decode_text(theirs), decode_text(ours)
    return a is not None and b is not None and line_union(a, b) == a
