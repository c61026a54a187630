"""Coalescing file-change events into a set of dirty paths: pure, no threads, no I/O.

This module owns the decisions of the watch package that can be stated without a
thread or a clock: which paths a filesystem event names and what it says about them,
whether a path lies in a watched directory, and when a dirty path is ready to hand to
the consumer. It must not know watchdog (events arrive as their plain fields) or Trio
(the time is passed in), and it never stats a file itself: the caller passes in what
it found (:data:`Signature`).
"""

from __future__ import annotations

import enum
import os
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path


class Change(enum.Enum):
    """What an event says about one path."""

    WRITTEN = "written"
    """Written to, truncated or created: a program may still have it open for writing."""
    CLOSED = "closed"
    """A program that had it open for writing closed it (inotify's IN_CLOSE_WRITE)."""
    REPLACED = "replaced"
    """Complete at once: renamed onto or away from the path (an atomic save), or deleted."""


#: watchdog's ``event_type`` strings that say a file may have changed, and how.
#: ``opened`` and ``closed_no_write`` are left out on purpose: reading a file opens
#: and closes it, and reporting that would make every read of a log trigger another
#: read. ``closed`` (close-after-write) only arrives from a watcher that asks for it.
EVENT_CHANGES: Mapping[str, Change] = {
    "created": Change.WRITTEN,
    "modified": Change.WRITTEN,
    "closed": Change.CLOSED,
    "moved": Change.REPLACED,
    "deleted": Change.REPLACED,
}

Signature = tuple[int, int, int] | None
"""What a stat says of a file, to tell whether it still changes: ``(size, mtime_ns,
inode)``, or None when there is no file (or it cannot be stat'ed), or
:data:`NOT_A_FILE`."""

NOT_A_FILE: Signature = (-1, -1, -1)
"""The signature of a symlink, a fifo or a device: nothing writes it, nothing will
close it (a symlink's creation is reported like a file's), so it is complete."""


def event_changes(
    event_type: str, src_path: str | bytes, dest_path: str | bytes, *, is_directory: bool
) -> tuple[tuple[Path, Change], ...]:
    """The file paths one filesystem event names, each with what it says happened to
    it; empty if it names none.

    A move names both ends, so a rename is seen as a deletion and a creation, and an
    atomic replace (``os.replace(tmp, target)``, reported only as a move onto the
    target) names the target, complete. An end left empty (a move from or to an
    unwatched place) is skipped. Directory events name no file: a directory appearing
    or vanishing wholesale is left to the periodic rescan.
    """
    change = EVENT_CHANGES.get(event_type)
    if is_directory or change is None:
        return ()
    ends = (src_path, dest_path) if event_type == "moved" else (src_path,)
    return tuple((Path(os.fsdecode(end)), change) for end in ends if end)


def is_watched(path: Path, dirs: Collection[Path], *, recursive: bool) -> bool:
    """Whether ``path`` lies in one of ``dirs``: directly in it, or anywhere below it if
    ``recursive``."""
    if not recursive:
        return path.parent in dirs
    return any(parent in dirs for parent in path.parents)


@dataclass(frozen=True)
class HoldRules:
    """When a file that another program writes may be handed over (seconds).

    A file is handed over once its writer is done with it, never in between two of
    its writes: after its close-after-write, once two stats ``stable_s`` apart agree
    on its size, mtime and inode; a file closed empty only after ``empty_hold_s``
    without news (a truncation followed by a write is one change, not a delete-all
    and a re-insert). A file written but not closed (a writer that keeps it open) is
    held at least ``open_hold_s`` from its first write and until no write came for
    ``open_settle_s`` (and two stats agree). No file is held more than
    ``open_max_s`` from its first change: a log appender that never pauses, or a file
    whose stat keeps moving after its close (written through a memory map), is still
    handed over that often.
    """

    stable_s: float = 0.02
    empty_hold_s: float = 1.0
    open_hold_s: float = 2.0
    open_settle_s: float = 0.5
    open_max_s: float = 10.0

    def __post_init__(self) -> None:
        # stable_s > 0 keeps a file that changes at every stat from being stat'ed in a
        # tight loop.
        waits = (self.empty_hold_s, self.open_hold_s, self.open_settle_s, self.open_max_s)
        if self.stable_s <= 0 or min(waits) < 0:
            raise ValueError("hold times must not be negative, and stable_s must be positive")


@dataclass
class _Pending:
    """One dirty path: its changes since it was last taken."""

    first_s: float
    last_s: float
    change: Change
    writing_since_s: float | None = None
    """When it was first written without a close since (None: not being written)."""
    sig: Signature = None
    sig_known: bool = False
    """Whether ``sig`` was stat'ed after the latest change (else a stat is wanted)."""
    sig_s: float = 0.0
    confirmed: bool = False
    """A second stat, taken once the path was due, agreed with ``sig``."""


class DirtySet:
    """Paths that changed and that the consumer has not taken yet.

    Memory is bounded by the number of distinct paths, never by the number of
    events: a thousand changes to one file are one entry. The batch is gated by a
    debounce: it is ready once no change arrived for ``min_quiet_s``, or at most
    ``max_delay_s`` after its first change, so that a burst (a ``git checkout``) is
    one batch and a file written without pause is still reported.

    Without ``hold`` every path is ready when the batch is. With ``hold``
    (:class:`HoldRules`) each path is also held until its writer is done with it: a
    path being written does not count for the debounce and is taken on its own
    schedule, a closed one once its stat held. That needs stats, which the caller
    makes: ``to_stat`` says which paths, ``observe`` takes the results. Times are
    seconds on any monotonic clock, passed in by the caller.
    """

    def __init__(self, hold: HoldRules | None = None) -> None:
        self.hold = hold
        self._pending: dict[Path, _Pending] = {}
        self._batch_first_s: float | None = None
        self._batch_last_s = 0.0

    def __len__(self) -> int:
        return len(self._pending)

    def __contains__(self, path: object) -> bool:
        return path in self._pending

    def add(self, changes: Iterable[tuple[Path, Change]], now_s: float) -> None:
        """Record ``changes`` seen at ``now_s``; an empty iterable is no change.

        Changing an already dirty path again still counts as a change: it restarts
        the quiet period, and its latest change says whether it is being written.
        """
        for path, change in changes:
            pending = self._pending.get(path)
            if pending is None:
                pending = self._pending[path] = _Pending(now_s, now_s, change)
            pending.last_s = now_s
            pending.change = change
            pending.sig_known = pending.confirmed = False
            if change is not Change.WRITTEN:
                pending.writing_since_s = None
            elif pending.writing_since_s is None:
                pending.writing_since_s = now_s
            # A write still in progress leaves the debounce alone: a file appended to
            # all the time must not delay everyone else's saves.
            if self.hold is None or change is not Change.WRITTEN:
                self._batch_changed(now_s)

    def held(self) -> frozenset[Path]:
        """Dirty paths a writer may not be done with (written or closed, not taken)."""
        if self.hold is None:
            return frozenset()
        return frozenset(
            path for path, pending in self._pending.items() if pending.change is not Change.REPLACED
        )

    def retain(self, keep: Callable[[Path], bool]) -> None:
        """Forget every dirty path for which ``keep`` is false (a directory stopped being
        watched)."""
        self._pending = {path: p for path, p in self._pending.items() if keep(path)}

    def to_stat(self, now_s: float) -> list[Path]:
        """Paths whose stat the caller should pass to ``observe`` now: those changed
        since their last stat, and those due whose stat must be checked again."""
        hold = self.hold
        if hold is None:
            return []
        return [
            path
            for path, pending in self._pending.items()
            if pending.change is not Change.REPLACED
            and (
                not pending.sig_known
                or (not pending.confirmed and now_s >= self._due_s(pending, hold))
            )
        ]

    def observe(self, stats: Mapping[Path, Signature], now_s: float) -> None:
        """Take the stats asked for by ``to_stat``, made just before ``now_s``.

        The first stat after a change is remembered; a second one, made once the path
        is due, confirms it if it agrees, and otherwise counts as a new change (the
        file is still being written: mmap, a missed event).
        """
        for path, sig in stats.items():
            pending = self._pending.get(path)
            if pending is None or pending.change is Change.REPLACED:
                continue  # taken or forgotten meanwhile, or needs no stat
            if sig == NOT_A_FILE:
                pending.change, pending.writing_since_s = Change.REPLACED, None
                self._batch_changed(now_s)
                continue
            if pending.sig_known and sig == pending.sig:
                pending.confirmed = True
                continue
            if pending.sig_known:
                pending.last_s = now_s
                if pending.change is Change.CLOSED:
                    self._batch_changed(now_s)
            pending.sig, pending.sig_known, pending.sig_s = sig, True, now_s

    def take_ready(self, now_s: float, *, min_quiet_s: float, max_delay_s: float) -> set[Path]:
        """Remove and return every path ready at ``now_s`` (maybe none)."""
        ready = self._ready(now_s, min_quiet_s=min_quiet_s, max_delay_s=max_delay_s)
        for path in ready:
            del self._pending[path]
        if ready:
            # Paths left behind have waited through this batch: they do not hold
            # the next one back.
            self._batch_first_s = None
        return ready

    def wait_s(self, now_s: float, *, min_quiet_s: float, max_delay_s: float) -> float | None:
        """How long until a path may be ready if nothing else changes.

        ``None`` when nothing is dirty (wait for a change), ``0.0`` when a path is
        ready now or a stat is wanted now.
        """
        if not self._pending:
            return None
        gate_s = self._gate_s(min_quiet_s, max_delay_s)
        hold = self.hold
        if hold is None:
            return max(0.0, gate_s - now_s)
        ready = self._ready(now_s, min_quiet_s=min_quiet_s, max_delay_s=max_delay_s)
        if ready or self.to_stat(now_s):
            return 0.0
        soonest = min(self._ready_at_s(pending, hold, gate_s) for pending in self._pending.values())
        return max(0.0, soonest - now_s)

    # -- internals -----------------------------------------------------------------

    def _batch_changed(self, now_s: float) -> None:
        if self._batch_first_s is None:
            self._batch_first_s = now_s
        self._batch_last_s = now_s

    def _gate_s(self, min_quiet_s: float, max_delay_s: float) -> float:
        """When the debounce lets the batch go (``-inf``: already)."""
        if self._batch_first_s is None:
            return float("-inf")
        return min(self._batch_last_s + min_quiet_s, self._batch_first_s + max_delay_s)

    def _ready(self, now_s: float, *, min_quiet_s: float, max_delay_s: float) -> set[Path]:
        gate_open = now_s >= self._gate_s(min_quiet_s, max_delay_s)
        hold = self.hold
        if hold is None:
            return set(self._pending) if gate_open else set()
        ready: set[Path] = set()
        for path, pending in self._pending.items():
            if pending.change is Change.REPLACED:
                done = gate_open
            elif now_s >= pending.first_s + hold.open_max_s:
                done = True
            else:
                done = pending.confirmed and (gate_open or pending.change is Change.WRITTEN)
            if done:
                ready.add(path)
        return ready

    @staticmethod
    def _due_s(pending: _Pending, hold: HoldRules) -> float:
        """When a second stat may confirm ``pending`` (its first must be known)."""
        if pending.change is Change.WRITTEN:
            since = pending.writing_since_s
            assert since is not None
            settled = max(
                since + hold.open_hold_s,
                pending.last_s + hold.open_settle_s,
                pending.sig_s + hold.stable_s,
            )
        else:
            empty = pending.sig is not None and pending.sig[0] == 0
            wait = max(hold.stable_s, hold.empty_hold_s) if empty else hold.stable_s
            settled = pending.sig_s + wait
        return min(pending.first_s + hold.open_max_s, settled)

    def _ready_at_s(self, pending: _Pending, hold: HoldRules, gate_s: float) -> float:
        """When ``pending`` may next be ready or wants a stat, if nothing changes."""
        if pending.change is Change.REPLACED:
            return gate_s
        due_s = self._due_s(pending, hold)
        if pending.change is Change.WRITTEN:
            return due_s
        return max(gate_s, due_s) if pending.confirmed else due_s
