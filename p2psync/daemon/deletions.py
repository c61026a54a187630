"""Which files the manifest's changes deleted, brought back or renamed, for the file
history.

The mirror service (``daemon.mirror``) takes a ``DeletionWatch.look`` before and after
each step of a batch (this device's changes, a peer's, the rescan, the held deletes,
restores) and hands what changed to the share, which records it in each file's
timeline (docs/history.md): a ``delete`` version by whoever's step it was, a
``restore`` for a file back with the text it had, or a ``rename`` for a live file
whose path changed (its doc is the same: its history goes on under the new path).
Only the deleted flags and the live files' paths are compared, and only when the
mirror's view of the manifest is a new one or changed in place since the last look
(``ManifestView.changes``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass, field

from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import Entry, ManifestView

Peer = Hashable
DeletionsFn = Callable[["Deletions", "Peer | None"], Awaitable[None]]
"""What the share does with a step's deletions (the peer whose change it was, None: here)."""


@dataclass(frozen=True, slots=True)
class Deletions:
    """Entries one step deleted, deleted entries it brought back, and live entries it
    moved (each with the path it had)."""

    deleted: list[Entry]
    revived: list[Entry]
    renamed: list[tuple[Entry, str]] = field(default_factory=list)
    appeared: list[Entry] = field(default_factory=list)
    """Live entries new in the step, or of another kind than before (a text file
    that grew into a chunked one): a chunked file's first version is recorded then,
    its docs being stored before the manifest names them."""

    def __bool__(self) -> bool:
        return bool(self.deleted or self.revived or self.renamed or self.appeared)


def deleted_guids(view: ManifestView) -> frozenset[str]:
    """The entries of ``view`` a user deleted (not those that lost their path)."""
    return frozenset(g for g, e in view.by_guid.items() if e.deleted and not e.superseded_by)


def live_paths(view: ManifestView) -> dict[str, tuple[str, FileKind]]:
    """Guid -> path and kind of the live files of ``view``."""
    return {entry.guid: (path, entry.kind) for path, entry in view.by_path.items()}


class DeletionWatch:
    """The deleted entries and live paths of the last view looked at."""

    def __init__(self, view: ManifestView, *, starting: bool = False) -> None:
        """``starting``: the first look of a start, from the manifest as stored; every
        live entry counts as new at it (``appeared``: a version a crash left
        unrecorded is caught up), while a path it changes is a rename."""
        self._view = view
        self._changes = view.changes
        self._deleted = deleted_guids(view)
        self._paths: dict[str, tuple[str, FileKind | None]] = dict(live_paths(view))
        if starting:
            self._paths = {guid: (path, None) for guid, (path, _) in self._paths.items()}
            self._changes = -1  # the first look compares, whatever the view

    def look(self, view: ManifestView) -> Deletions:
        """What changed since the last look (nothing if ``view`` is the same object,
        unchanged since)."""
        if view is self._view and view.changes == self._changes:
            return Deletions([], [])
        deleted = deleted_guids(view)
        paths = live_paths(view)
        moved = sorted(g for g, p in paths.items() if self._paths.get(g, p)[0] != p[0])
        new = sorted(g for g, p in paths.items() if self._paths.get(g, (p[0], None))[1] != p[1])
        found = Deletions(
            [view.by_guid[g] for g in sorted(deleted - self._deleted)],
            [view.by_guid[g] for g in sorted(self._deleted - deleted) if g in view.by_guid],
            [(view.by_guid[g], self._paths[g][0]) for g in moved],
            [view.by_guid[g] for g in new],
        )
        self._view, self._changes, self._deleted = view, view.changes, deleted
        self._paths = dict(paths)
        return found
