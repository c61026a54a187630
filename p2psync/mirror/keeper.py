"""The mirror's keeper of the manifest (``Mirror.keeper``).

It holds the mirror's ``ManifestView`` of the share's manifest and makes every
change to it: the entries of new files are held back and put with the next change
(a burst of new files is one change), docs named by a share path are adopted,
deleted entries whose docs were edited since the deletion come back, and the chunks
of chunked files are told apart from files.

After a change the view is brought up to date with the entries changed since it was
read (this device's changes and peers', noted as the manifest doc applies them:
``watch_entries``), not read whole: each change of a batch deleting or moving N
files costs O(1), not O(entries). It is read whole (``reread``) when an entry's
change moves another (a collision), or one is malformed, and by
``Mirror.refresh_manifest``: O(1) times a batch.
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
    read_entry,
    set_fields,
    watch_entries,
)
from p2psync.mirror.names import NameRules
from p2psync.mirror.paths import is_share_path
from p2psync.mirror.problems import Problems
from p2psync.mirror.revival import edited_since_deletion
from p2psync.mirror.store import DocStore, Peer, YDoc
from p2psync.mirror.ydocfile import is_ydoc_path
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
        """Whether the view holds new entries ``add_new`` could not place as a read
        would: it is read whole at the next change."""
        self._touched: set[str] = set()
        """The guids of the entries changed since the view was brought up to date."""
        self._watched: YDoc | None = None
        """The manifest's Doc whose changes ``_touched`` notes (None: none yet)."""
        self._unwatch: Callable[[], None] | None = None
        self.rereads = 0
        """How many times the view was read whole (tests count them)."""
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
        if self._view_behind or not self.view.replace(self.view.by_guid.get(entry.guid), entry):
            self.view.add(entry)
            self._view_behind = True

    def _manifest(self) -> DocReplica | None:
        return self.store.doc(MANIFEST_GUID)

    def _key(self) -> Callable[[str], str] | None:
        names = self._names()
        return names.key if names.folds else None

    def reread(self) -> None:
        """Read the whole manifest into a new view: O(entries)."""
        manifest = self._manifest()
        ydoc = manifest.ydoc if manifest is not None else None
        if ydoc is not self._watched:  # from now on, every change of an entry is noted
            if self._unwatch is not None:
                self._unwatch()
            self._unwatch = watch_entries(ydoc, self._touched) if ydoc is not None else None
            self._watched = ydoc
        self._touched.clear()
        self._view_behind = False
        self.rereads += 1
        if ydoc is None:
            self.view = ManifestView(key=self._key())
            return
        entries, problems = read_entries(ydoc)
        for problem in problems:
            self.problems.report(problem, "manifest-problem", message=problem)
        self.view = ManifestView.of(entries, self._key())

    def _catch_up(self) -> None:
        """Bring the view up to date with the entries changed since (``_touched``):
        O(changed entries), unless one moves another, is malformed, or the view
        cannot be trusted to be the manifest's as read (then ``reread``)."""
        manifest = self._manifest()
        if (
            manifest is None
            or manifest.ydoc is not self._watched
            or self._view_behind
            or self._key() != self.view.key
        ):
            self.reread()
            return
        touched = list(self._touched)
        self._touched.clear()
        for guid in touched:
            old = self.view.by_guid.get(guid)
            try:
                new = read_entry(manifest.ydoc, guid)
            except ValueError:
                self.reread()  # which reports it
                return
            if new != old and not self.view.replace(old, new):
                self.reread()
                return

    async def edit(self, edit: Callable[[YDoc], None] | None = None) -> None:
        """Change the manifest (after adding the entries of new files held back so a
        burst of new files is one change), then bring the view up to date."""
        pending, self._new_entries = self._new_entries, []
        if pending or edit is not None:
            await self.store.local_edit(MANIFEST_GUID, _putting(pending, edit))
        if pending or edit is not None or self._view_behind:
            self._catch_up()

    async def store_new(self) -> None:
        """Store the held-back entries of new files now, their docs being durable:
        before a sync record names one of those docs (a crash between the two would
        leave a record whose doc no entry holds, and the file would be taken in again
        as a second doc). The view has them already (``add_new``)."""
        pending, self._new_entries = self._new_entries, []
        if pending:
            await self.store.local_edit(MANIFEST_GUID, _putting(pending, None))

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
                kind = FileKind.YDOC if is_ydoc_path(guid) else FileKind.TEXT
                adopt.append(Entry(guid, guid, kind, self.clock.tick()))
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
