"""A file's timeline: versions with their metadata, and saves coalesced by time.

A version names the point in the doc's log where it ends (``log_end``: how many
updates of the doc's history precede it) and carries what ``p2psync history``
shows. Saves of the same kind by the same device closer than ``COALESCE_SECONDS``
replace the previous version instead of adding one (docs/history.md).
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
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
    number: int = 0
    """What ``p2psync history`` calls it: one more than the version before it, kept by a
    coalesced save and never reused, so it names the same version until it is dropped."""
    old_path: str = ""
    """For a ``rename``: the share path the file had before it (empty otherwise)."""
    text_key: str = ""
    """For a version of a chunked file: the key of its whole text among the log's
    version texts (``storage.versiontexts``); empty when the log rebuilds it."""
    chained: bool = False
    """Whether ``state`` holds only what the doc gained since the version before it
    that holds a state (``storage.historystates``), not the whole."""


DIFF_MAX_CHARS = 20_000
"""Past this many changed characters on either side (after the common start and end
are cut off), +N / -M are the two sides' lengths: ``difflib`` is quadratic."""


def char_changes(before: str, after: str) -> tuple[int, int]:
    """(+N, -M): characters inserted and deleted going from ``before`` to ``after``."""
    limit = min(len(before), len(after))
    start = _common_length(lambda n: before[:n] == after[:n], limit)
    end = _common_length(
        lambda n: before[len(before) - n :] == after[len(after) - n :], limit - start
    )
    before, after = before[start : len(before) - end], after[start : len(after) - end]
    if len(before) > DIFF_MAX_CHARS or len(after) > DIFF_MAX_CHARS:
        return len(after), len(before)
    added = removed = 0
    matcher = difflib.SequenceMatcher(None, before, after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag != "equal":
            removed += i2 - i1
            added += j2 - j1
    return added, removed


def _common_length(same: Callable[[int], bool], limit: int) -> int:
    """The largest ``n <= limit`` with ``same(n)`` (true up to some point, then false):
    bisected, so each step is one comparison of slices in C, not one per character."""
    low, high = 0, limit
    while low < high:
        middle = (low + high + 1) // 2
        if same(middle):
            low = middle
        else:
            high = middle - 1
    return low


def record(
    timeline: list[Version],
    *,
    time: float,
    device: str,
    kind: str,
    log_end: int,
    before: str,
    after: str,
    old_path: str = "",
    text_key: str = "",
    changes: tuple[int, int, int] | None = None,
) -> Version:
    """Append (or coalesce into the last entry) the version that turned ``before`` into ``after``.

    ``before`` is the text of the last version that stays in the timeline before the
    new one: the one before the last entry when the new version coalesces into it.
    ``old_path`` is a rename's former path; ``text_key`` names the whole text of a
    chunked file's version, whose (+N, -M, size) the caller counts (``changes``:
    then ``before`` and ``after`` are not read).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown version kind {kind!r}")
    if changes is not None:
        added, removed, size = changes
    else:
        added, removed = char_changes(before, after)
        size = len(after.encode())
    if coalesces(timeline, time, device, kind):
        # the state a compaction gave the version it replaces is not this version's
        merged = replace(timeline[-1], time=time, log_end=log_end, size=size, added=added,
                         removed=removed, text_key=text_key, state=b"",
                         chained=False)  # fmt: skip
        timeline[-1] = merged
        return merged
    number = timeline[-1].number + 1 if timeline else 1
    version = Version(
        time,
        device,
        kind,
        log_end,
        size,
        added,
        removed,
        number=number,
        old_path=old_path,
        text_key=text_key,
    )
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
