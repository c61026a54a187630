"""Saves that overwrote the daemon's write: the read-modify-write race.

A program that read a file, then wrote it back after the daemon had written a
peer's change into it, replaces that change with its older copy: the save, diffed
against what the daemon wrote, deletes the peer's lines. Nothing can tell that save
from a user deleting those lines on purpose, so the save is applied as it is; but
when the first save after a daemon write lacks lines that write brought, soon
after it, the bytes it overwrote are kept as a conflict copy, with an event, so
they are never lost.
"""

from __future__ import annotations

from collections import Counter
from typing import NamedTuple

RACE_WINDOW_S = 10.0
"""How long after the daemon's write a save that drops its lines is suspected."""


class Written(NamedTuple):
    """The daemon's last write of a file: when, what was there, what it wrote."""

    at: float
    before: bytes
    after: bytes


def dropped_written_lines(write: Written, saved: bytes) -> bool:
    """Whether ``saved`` lacks a line that ``write`` added to the file."""
    after = Counter(write.after.splitlines())
    added = after - Counter(write.before.splitlines())
    if not added:
        return False
    kept = Counter(saved.splitlines())
    return any(kept[line] < after[line] for line in added)


class RecentWrites:
    """The daemon's writes of one-doc text files within the last ``RACE_WINDOW_S``."""

    def __init__(self) -> None:
        self._writes: dict[str, Written] = {}

    def wrote(self, rel: str, before: bytes, after: bytes, now: float) -> None:
        self._writes[rel] = Written(now, before, after)

    def overwritten(self, rel: str, saved: bytes, now: float) -> bytes | None:
        """The bytes of the daemon's recent write of ``rel`` if the save ``saved`` (the
        first since) dropped lines that write added; None otherwise."""
        write = self._writes.pop(rel, None)
        if write is None or now - write.at > RACE_WINDOW_S:
            return None
        return write.after if dropped_written_lines(write, saved) else None

    def expire(self, now: float) -> None:
        """Drop the writes too old to be raced (bounded memory)."""
        for rel in [r for r, w in self._writes.items() if now - w.at > RACE_WINDOW_S]:
            del self._writes[rel]
