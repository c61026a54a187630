"""The files of a share whose doc is here and that its mirror has not written, kept
from one ``status`` to the next (``sharestatus.files_to_write``).

A path is unwritten when the view's live entry there names a doc the share holds and
the path's sync record names another doc, or there is none. Found by a pass over
every path, that was most of what ``status`` cost during a first sync of 30,000 files,
asked every second; an ``Unwritten`` looks again only at the paths that changed
since its last look: those the view and the sync records say they touched
(``ManifestView.touched``, ``SyncTable.touched``), and the paths of the docs that
changed (``ShareReplica.changed_since``: a doc arriving). Another view (the manifest
read again), another table, too many touched, or changes from before what the
replica keeps: every path is looked at again. Which paths have problems is applied
at each count (they are few).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from p2psync.mirror.manifest import ManifestView
from p2psync.mirror.state import SyncTable
from p2psync.replica.share import ShareReplica


@dataclass
class Unwritten:
    """The unwritten paths of ``view`` and ``synced`` as of our sequence ``sequence``."""

    view: ManifestView
    synced: SyncTable
    sequence: int = 0
    docs: dict[str, str] = field(default_factory=dict)
    """Each unwritten path's doc."""

    def judge(self, paths: Iterable[str], held: ShareReplica) -> None:
        """Look again at ``paths``."""
        by_path, synced, docs = self.view.by_path, self.synced, self.docs
        for rel in paths:
            entry, record = by_path.get(rel), synced.get(rel)
            if (
                entry is not None
                and entry.guid in held
                and (record is None or record.guid != entry.guid)
            ):
                docs[rel] = entry.guid
            else:
                docs.pop(rel, None)
        self.sequence = held.max_sequence


def unwritten(
    view: ManifestView, synced: SyncTable, held: ShareReplica, was: Unwritten | None
) -> Unwritten:
    """``was`` brought up to date, or found anew over every path (see the module)."""
    touched_view, touched_records = view.touched.take(), synced.touched.take()
    changed = None if was is None else held.changed_since(was.sequence)
    if (was is None or was.view is not view or was.synced is not synced or changed is None
            or touched_view is None or touched_records is None):  # fmt: skip
        fresh = Unwritten(view, synced)
        fresh.judge(view.by_path, held)
        return fresh
    paths = touched_view | touched_records
    paths.update(entry.path for guid in changed if (entry := view.by_guid.get(guid)) is not None)
    was.judge(paths, held)
    return was
