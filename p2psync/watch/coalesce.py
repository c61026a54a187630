"""Coalescing file-change events into a set of dirty paths: pure, no threads, no I/O.

This module owns the decisions of the watch package that can be stated without a
thread or a clock: which paths a filesystem event names, whether a path lies in a
watched directory, and when a set of dirty paths is ready to hand to the consumer.
It must not know watchdog (events arrive as their plain fields) or Trio (the time
is passed in).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Iterable
from pathlib import Path

#: Event types (watchdog's ``event_type`` strings) that mean "this file may have changed".
#: Opened and closed events are left out on purpose: reading a log after a change
#: opens it, and reporting that would make every read trigger another read.
CHANGE_EVENT_TYPES = frozenset({"created", "modified", "moved", "deleted"})


def changed_paths(
    event_type: str, src_path: str | bytes, dest_path: str | bytes, *, is_directory: bool
) -> tuple[Path, ...]:
    """The file paths one filesystem event says changed; empty if it says none did.

    A move names both ends, so a rename is seen as a deletion and a creation, and an
    atomic replace (``os.replace(tmp, target)``, reported only as a move onto the
    target) names the target. An end left empty (a move from or to an unwatched
    place) is skipped. Directory events name no file: a directory appearing or
    vanishing wholesale is left to the periodic rescan.
    """
    if is_directory or event_type not in CHANGE_EVENT_TYPES:
        return ()
    ends = (src_path, dest_path) if event_type == "moved" else (src_path,)
    return tuple(Path(os.fsdecode(end)) for end in ends if end)


def is_watched(path: Path, dirs: Collection[Path], *, recursive: bool) -> bool:
    """Whether ``path`` lies in one of ``dirs``: directly in it, or anywhere below it if
    ``recursive``."""
    if not recursive:
        return path.parent in dirs
    return any(parent in dirs for parent in path.parents)


class DirtySet:
    """Paths that changed and that the consumer has not taken yet.

    Memory is bounded by the number of distinct paths, never by the number of
    events: a thousand changes to one file are one entry. The set also remembers when
    the current batch began (its first change) and when its last change arrived, so
    that a consumer can wait for a quiet moment before taking it (debounce), bounded
    by a maximum delay so that a file written without pause is still reported.
    Times are seconds on any monotonic clock, passed in by the caller.
    """

    def __init__(self) -> None:
        self._paths: set[Path] = set()
        self._first_change_s = 0.0
        self._last_change_s = 0.0

    def __len__(self) -> int:
        return len(self._paths)

    def __contains__(self, path: object) -> bool:
        return path in self._paths

    def add(self, paths: Iterable[Path], now_s: float) -> None:
        """Record changes to ``paths`` seen at ``now_s``; an empty iterable is no change.

        Changing an already dirty path again still counts as a change: it restarts
        the quiet period.
        """
        new = set(paths)
        if not new:
            return
        if not self._paths:
            self._first_change_s = now_s
        self._last_change_s = now_s
        self._paths |= new

    def retain(self, keep: Callable[[Path], bool]) -> None:
        """Forget every dirty path for which ``keep`` is false (a directory stopped being
        watched)."""
        self._paths = {path for path in self._paths if keep(path)}

    def wait_s(self, now_s: float, *, min_quiet_s: float, max_delay_s: float) -> float | None:
        """How long until the batch is ready if nothing else changes.

        ``None`` when nothing is dirty (wait for a change), ``0.0`` when the batch is
        ready now: no change arrived for ``min_quiet_s``, or the batch is already
        ``max_delay_s`` old.
        """
        if not self._paths:
            return None
        ready_at_s = min(self._last_change_s + min_quiet_s, self._first_change_s + max_delay_s)
        return max(0.0, ready_at_s - now_s)

    def take(self) -> set[Path]:
        """Return every dirty path and start a new, empty batch."""
        paths, self._paths = self._paths, set()
        return paths
