"""The mirror's keeper of the manifest (``Mirror.keeper``).

It holds the mirror's ``ManifestView`` of the share's manifest and makes every
change to it: the entries of new files are held back and put with the next change
(a burst of new files is one change, and one re-reading of the view), docs named
by a share path are adopted, deleted entries whose docs were edited since the
deletion come back, and the chunks of chunked files are told apart from files.
"""

from __future__ import annotations

from collections.abc import Callable

from p2psync.mirror.chunkfile import ChunkedFiles
from p2psync.mirror.hlc import HybridClock
from p2psync.mirror.ignore import IgnoreRules
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import (
    MANIFEST_GUID,
    Entry,
    ManifestView,
    put_entry,
    read_entries,
    set_fields,
)
from p2psync.mirror.names import NameRules
from p2psync.mirror.paths import is_share_path
from p2psync.mirror.problems import Problems
from p2psync.mirror.revival import edited_since_deletion
from p2psync.mirror.store import DocStore, Peer, YDoc
from p2psync.replica.doc import DocReplica


class ManifestKeeper:
    """The manifest as the mirror sees and edits it (see the module doc)."""

    def __init__(
        self,
        store: DocStore,
        clock: HybridClock,
        chunks: ChunkedFiles,
        problems: Problems,
        *,
        names: Callable[[], NameRules],
        ignore: Callable[[], IgnoreRules],
    ) -> None:
        self.store = store
        self.clock = clock
        self.chunks = chunks
        self.problems = problems
        self._names = names
        self._ignore = ignore
        self.view = ManifestView()
        self._new_entries: list[Entry] = []
        self._view_behind = False
        """Whether entries were stored (``store_new``) since the view was read."""
        self._not_adopted: set[str] = set()
        """Doc guids found not to name a file under the current ignore rules: each
        refresh then costs O(new docs), not O(all docs)."""
        self._edited_deleted: set[str] = set()
        """Deleted chunked files whose chunks changed since the last revival check."""
        self._revival_checked: dict[str, bytes] = {}
        """Deleted chunked file -> the ``deleted_chunks`` its chunks were compared with:
        they are loaded to compare again only if that or one of them changed."""

    def ignore_changed(self) -> None:
        """The ignore rules changed: a doc ignored until now may name a file again."""
        self._not_adopted.clear()

    def add_new(self, entry: Entry) -> None:
        """A new file's entry: in the view now, in the manifest with the next change
        (or ``store_new``)."""
        self._new_entries.append(entry)
        self.view.add(entry)

    def _manifest(self) -> DocReplica | None:
        return self.store.doc(MANIFEST_GUID)

    def read_view(self) -> ManifestView:
        manifest = self._manifest()
        if manifest is None:
            return ManifestView()
        entries, problems = read_entries(manifest.ydoc)
        for problem in problems:
            self.problems.report(problem, "manifest-problem", message=problem)
        names = self._names()
        return ManifestView.of(entries, names.key if names.folds else None)

    async def edit(self, edit: Callable[[YDoc], None] | None = None) -> None:
        """Change the manifest (after adding the entries of new files held back so a
        burst of new files is one change, and one re-reading of the view)."""
        pending, self._new_entries = self._new_entries, []
        if pending or edit is not None:
            await self.store.local_edit(MANIFEST_GUID, _putting(pending, edit))
        if pending or edit is not None or self._view_behind:
            self.view = self.read_view()
            self._view_behind = False

    async def store_new(self) -> None:
        """Store the held-back entries of new files now, their docs being durable:
        before a sync record names one of those docs (a crash between the two would
        leave a record whose doc no entry holds, and the file would be taken in again
        as a second doc). The view has them already (``add_new``); it is re-read once,
        at the next ``edit`` (the end of the batch), not here: that costs O(entries)."""
        pending, self._new_entries = self._new_entries, []
        if pending:
            await self.store.local_edit(MANIFEST_GUID, _putting(pending, None))
            self._view_behind = True

    def chunks_to_roots(self, changes: dict[str, Peer | None]) -> dict[str, Peer | None]:
        """``changes`` with each chunk of a chunked file replaced by its root (and the
        chunk noted as changed, so the file's next write reads it from its doc)."""
        roots = {e.guid for e in self.view.by_guid.values() if e.kind is FileKind.CHUNKED}
        if not roots:
            return changes
        mapped: dict[str, Peer | None] = {}
        for guid, peer in changes.items():
            if guid in roots:
                self.chunks.changed(guid, guid)  # a converted root is its first chunk
            known = guid in self.view.by_guid or guid == MANIFEST_GUID
            owner = None if known else self.chunks.owner_of(guid, roots)
            if owner is None:
                mapped[guid] = peer if peer is not None else mapped.get(guid)
            else:
                self.chunks.changed(owner, guid)
                if (root := self.view.by_guid.get(owner)) is not None and root.deleted:
                    self._edited_deleted.add(owner)
                mapped[owner] = peer if peer is not None else mapped.get(owner)
        return mapped

    async def adopt_path_named_docs(self) -> None:
        """Give a manifest entry to docs named by their path (``doc apply``, other
        programs' log appends) that have none yet."""
        adopt: list[Entry] = []
        for guid in self.store.guids():
            if guid == MANIFEST_GUID or guid in self.view.by_guid or guid in self.view.by_path:
                continue
            if guid in self._not_adopted:
                continue
            if is_share_path(guid) and not self._ignore().ignored(guid, False):
                adopt.append(Entry(guid, guid, FileKind.TEXT, self.clock.tick()))
            else:
                self._not_adopted.add(guid)
        if adopt:

            def add(doc: YDoc) -> None:
                for entry in adopt:
                    put_entry(doc, entry)

            await self.edit(add)

    async def revive_edited(self) -> None:
        """A deleted entry whose doc was edited after the deletion comes back: an edit
        concurrent with a delete keeps the file."""
        edited, self._edited_deleted = self._edited_deleted, set()
        checked, self._revival_checked = self._revival_checked, {}
        revive = [
            entry.guid
            for entry in self.view.by_guid.values()
            if entry.deleted
            and edited_since_deletion(
                entry, self.store.doc, chunks=self._recheck(entry, edited, checked)
            )
        ]
        if revive:

            def undelete(doc: YDoc) -> None:
                for guid in revive:
                    set_fields(doc, guid, deleted=False, deleted_at=b"", deleted_chunks=b"")

            await self.edit(undelete)

    def _recheck(self, entry: Entry, edited: set[str], checked: dict[str, bytes]) -> bool:
        """Whether deleted chunked ``entry``'s chunks are to be compared with its
        deletion record: one of them changed, or the record is not the one compared
        last time (``checked``; an entry seen live meanwhile is new again)."""
        if entry.kind is not FileKind.CHUNKED:
            return False
        self._revival_checked[entry.guid] = entry.deleted_chunks
        return checked.get(entry.guid) != entry.deleted_chunks or entry.guid in edited


def _putting(entries: list[Entry], edit: Callable[[YDoc], None] | None) -> Callable[[YDoc], None]:
    """The manifest change that puts ``entries``, then makes ``edit``."""

    def change(doc: YDoc) -> None:
        for entry in entries:
            put_entry(doc, entry)
        if edit is not None:
            edit(doc)

    return change
