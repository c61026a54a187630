"""Which files the manifest's changes deleted or brought back, for the file history.

The mirror service (``daemon.mirror``) takes a ``DeletionWatch.look`` before and after
each step of a batch (this device's changes, a peer's, the rescan, the held deletes,
restores) and hands what changed to the share, which records it in each file's
timeline (docs/history.md): a ``delete`` version by whoever's step it was, or a
``restore`` for a file back with the text it had. Only the deleted flags are compared,
and only when the mirror's view of the manifest is a new one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass

from p2psync.mirror.manifest import Entry, ManifestView

Peer = Hashable
DeletionsFn = Callable[["Deletions", "Peer | None"], Awaitable[None]]
"""What the share does with a step's deletions (the peer whose change it was, None: here)."""


@dataclass(frozen=True, slots=True)
class Deletions:
    """Entries one step deleted, and deleted entries it brought back."""

    deleted: list[Entry]
    revived: list[Entry]

    def __bool__(self) -> bool:
        return bool(self.deleted or self.revived)


def deleted_guids(view: ManifestView) -> frozenset[str]:
    """The entries of ``view`` a user deleted (not those that lost their path)."""
    return frozenset(g for g, e in view.by_guid.items() if e.deleted and not e.superseded_by)


class DeletionWatch:
    """The deleted entries of the last view looked at."""

    def __init__(self, view: ManifestView) -> None:
        self._view = view
        self._deleted = deleted_guids(view)

    def look(self, view: ManifestView) -> Deletions:
        """What changed since the last look (nothing if ``view`` is the same object)."""
        if view is self._view:
            return Deletions([], [])
        deleted = deleted_guids(view)
        found = Deletions(
            [view.by_guid[g] for g in sorted(deleted - self._deleted)],
            [view.by_guid[g] for g in sorted(self._deleted - deleted) if g in view.by_guid],
        )
        self._view, self._deleted = view, deleted
        return found
