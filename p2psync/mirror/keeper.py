"""The mirror's keeper of the manifest (``Mirror.keeper``).

It holds the mirror's ``ManifestView`` of the share's manifest and makes every
change to it: the entries of new files are held back and put with the next change
(a burst of new files is one change), docs named by a share path are adopted,
deleted entries whose docs were edited since the deletion come back, and the chunks
of chunked files are told apart from files.

After a change the view is brought up to date with the entries the change touched
(this device's, and any peer's applied meanwhile, noted as the manifest doc applies
them: ``watch_entries``), not read whole: each change of a batch deleting or moving N
files costs O(1), not O(entries). It is read whole (``reread``) when an entry's
change moves another (a collision), or one is malformed, or the manifest changed
since the view was read (a peer's change): O(1) times a batch.

The keeper holds the manifest doc only while it changes it: the view remembers the
doc's version it was read at (``DocVersion``, known without loading the doc), so an
idle share's manifest leaves memory like any other doc (``daemon.residency``) and a
rescan finding it unchanged neither loads nor reads it. For the same reason the
first read of a start takes the entries the last stop kept (``mirror.viewcache``)
when the manifest is still at their version.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

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
from p2psync.mirror.viewcache import load_entries, save_entries
from p2psync.mirror.ydocfile import is_ydoc_path
from p2psync.protocol.yjs import DocVersion
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
        view_file: Path | None = None,
    ) -> None:
        self.store = store
        self._view_file = view_file
        """Where the entries are kept between runs (``mirror.viewcache``; None: not)."""
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
        self._read = False
        """Whether the view was read from the manifest yet (``reread``)."""
        self._read_at: DocVersion | None = None
        """The manifest's version the view is up to date with (None: no manifest)."""
        self._read_problems = False
        """Whether the last whole read found malformed entries (reported then)."""
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

    def _current(self) -> bool:
        """Whether the view is the manifest's as it is now, loaded or not: read at its
        present version, under the present name key, with no entry it could not
        place as a read would (``add_new``)."""
        return (
            self._read
            and not self._view_behind
            and self._key() == self.view.key
            and self.store.version(MANIFEST_GUID) == self._read_at
        )

    def reread(self) -> None:
        """Read the whole manifest into a new view: O(entries). The first read of a
        start takes the entries the last stop kept, if the manifest is at their
        version, without loading the doc."""
        kept = self._kept_entries() if not self._read else None
        self._view_behind = False
        self.rereads += 1
        if kept is not None:
            self._read, self._read_at, self._read_problems = True, kept[0], False
            self.view = ManifestView.of(kept[1], self._key())
            return
        manifest = self._manifest()
        self._read, self._read_at = True, manifest.version() if manifest is not None else None
        if manifest is None:
            self.view = ManifestView(key=self._key())
            return
        entries, problems = read_entries(manifest.ydoc)
        self._read_problems = bool(problems)
        for problem in problems:
            self.problems.report(problem, "manifest-problem", message=problem)
        self.view = ManifestView.of(entries, self._key())

    def _kept_entries(self) -> tuple[DocVersion, dict[str, Entry]] | None:
        """The manifest's present version and the entries kept for it, if any."""
        version = self.store.version(MANIFEST_GUID)
        if self._view_file is None or version is None:
            return None
        entries = load_entries(self._view_file, version)
        return (version, entries) if entries is not None else None

    def save_view(self) -> bool:
        """Keep the view's entries for the next start (the share stopping in order),
        if they are the manifest's as it is now, all well formed: True if written.
        Blocking; raises OSError."""
        if (
            self._view_file is None
            or self._read_at is None
            or self._new_entries
            or self._read_problems
            or not self._current()
        ):
            return False
        save_entries(self._view_file, self._read_at, self.view.by_guid.values())
        return True

    def refresh(self) -> None:
        """Read the manifest whole if it changed since the view was read (a peer's
        change); nothing, not even a load, if it did not."""
        if not self._current():
            self.reread()

    async def edit(self, edit: Callable[[YDoc], None] | None = None) -> None:
        """Change the manifest (after adding the entries of new files held back so a
        burst of new files is one change), then bring the view up to date."""
        pending, self._new_entries = self._new_entries, []
        if pending or edit is not None:
            await self._change(_putting(pending, edit))
        elif self._view_behind:
            self.reread()

    async def store_new(self) -> None:
        """Store the held-back entries of new files now, their docs being durable:
        before a sync record names one of those docs (a crash between the two would
        leave a record whose doc no entry holds, and the file would be taken in again
        as a second doc). The view has them already (``add_new``)."""
        pending, self._new_entries = self._new_entries, []
        if pending:
            await self._change(_putting(pending, None))

    async def _change(self, change: Callable[[YDoc], None]) -> None:
        """Make ``change`` to the manifest as a local edit and bring the view up to
        date with the entries changed meanwhile (``change``'s and any peer's applied
        during it): O(changed entries) if the view was the manifest's before, else
        read whole. The doc is watched only for the change, so nothing here keeps it
        in memory after."""
        manifest = self._manifest() if self._current() else None
        touched: set[str] = set()
        unwatch = watch_entries(manifest.ydoc, touched) if manifest is not None else None
        try:
            await self.store.local_edit(MANIFEST_GUID, change)
        finally:
            if unwatch is not None:
                unwatch()
        if manifest is None or not self._catch_up(manifest, touched):
            self.reread()

    def _catch_up(self, manifest: DocReplica, touched: set[str]) -> bool:
        """Bring the view up to date with entries ``touched`` of ``manifest``: False
        if it cannot be (the doc was replaced meanwhile, an entry is malformed or
        moves another) and the view is to be read whole."""
        if self._manifest() is not manifest or self._key() != self.view.key:
            return False
        for guid in touched:
            old = self.view.by_guid.get(guid)
            try:
                new = read_entry(manifest.ydoc, guid)
            except ValueError:
                return False  # the read reports it
            if new != old and not self.view.replace(old, new):
                return False
        self._read_at = manifest.version()
        return True

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
