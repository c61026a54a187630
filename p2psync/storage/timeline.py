"""A file's timeline: versions with their metadata, and saves coalesced by time.

A version names the point in the doc's log where it ends (``log_end``: how many
updates of the doc's history precede it) and carries what ``p2psync history``
shows. Saves of the same kind by the same device closer than ``COALESCE_SECONDS``
replace the previous version instead of adding one (docs/history.md).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace

COALESCE_SECONDS = 10.0
KINDS = ("create", "local save", "remote change", "rename", "delete", "restore")
_COALESCED_KINDS = ("local save", "remote change")


@dataclass(frozen=True, slots=True)
class Version:
    """One entry of a timeline; ``added``/``removed`` count characters against the one before."""

    time: float
    device: str
    kind: str
    log_end: int
    size: int
    added: int
    removed: int
    state: bytes = b""
    """The version's full Yjs state, written before compaction folds its updates into a
    snapshot; empty while the log still holds them."""


def char_changes(before: str, after: str) -> tuple[int, int]:
    """(+N, -M): characters inserted and deleted going from ``before`` to ``after``."""
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += i2 - i1
            added += j2 - j1
    return added, removed


def record(
    timeline: list[Version],
    *,
    time: float,
    device: str,
    kind: str,
    log_end: int,
    before: str,
    after: str,
) -> Version:
    """Append (or coalesce into the last entry) the version that turned ``before`` into ``after``.

    ``before`` is the text of the last version that stays in the timeline before the
    new one: the one before the last entry when the new version coalesces into it.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown version kind {kind!r}")
    added, removed = char_changes(before, after)
    size = len(after.encode())
    if coalesces(timeline, time, device, kind):
        merged = replace(
            timeline[-1], time=time, log_end=log_end, size=size, added=added, removed=removed
        )
        timeline[-1] = merged
        return merged
    version = Version(time, device, kind, log_end, size, added, removed)
    timeline.append(version)
    return version


def coalesces(timeline: list[Version], time: float, device: str, kind: str) -> bool:
    """True if a new version with these fields would replace the last one."""
    last = timeline[-1] if timeline else None
    return (
        last is not None
        and kind in _COALESCED_KINDS
        and last.kind == kind
        and last.device == device
        and time - last.time < COALESCE_SECONDS
    )
