"""A file's timeline: versions with their metadata, and saves coalesced by time.

A version names the point in the doc's log where it ends (``log_end``: how many
updates of the doc's history precede it) and carries what ``p2psync history``
shows. Saves of the same kind by the same device closer than ``COALESCE_SECONDS``
replace the previous version instead of adding one, and so do the edits of devices
editing together (their edits alternating that close): one version names each of
them, not one version per turn. A coalesced version's +N / -M are the sums of its
changes', each counted once, when it is recorded (docs/history.md).
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
    """One entry of a timeline; ``added``/``removed`` count characters inserted and
    deleted since the one before: for a version several changes coalesced into, the
    sums of each change's counts against the text just before it (an insertion a later
    change of the version deletes is counted in both)."""

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
    others: tuple[str, ...] = ()
    """The other devices whose edits coalesced into this version, in the order they
    came (``device`` made its first)."""

    @property
    def devices(self) -> tuple[str, ...]:
        """Every device whose edits this version holds, its first one's first."""
        return (self.device, *self.others)


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
    together: bool = True,
) -> Version:
    """Append (or coalesce into the last entry) the version of the change that turned
    ``before`` into ``after``.

    ``before`` is the text just before the change: the last entry's, whether or not
    the change coalesces into it. The change's (+N, -M) are counted against it alone,
    so a change costs the same whether it makes a version or joins one: a coalesced
    version's counts are the sums of its changes' (``Version.added``), never a diff
    across the whole version, which grows with every change a long run of edits
    merges. ``old_path`` is a rename's former path; ``text_key`` names the whole text
    of a chunked file's version, whose change's (+N, -M) and size the caller counts
    (``changes``: then ``before`` and ``after`` are not read). ``together``: whether
    devices editing together coalesce (``coalesces``).
    """
    if kind not in KINDS:
        raise ValueError(f"unknown version kind {kind!r}")
    if changes is not None:
        added, removed, size = changes
    else:
        added, removed = char_changes(before, after)
        size = len(after.encode())
    if coalesces(timeline, time, device, kind, together=together):
        last = timeline[-1]
        others = last.others if device in last.devices else (*last.others, device)
        # the state a compaction gave the version it replaces is not this version's
        merged = replace(last, time=time, log_end=log_end, size=size,
                         added=last.added + added, removed=last.removed + removed,
                         text_key=text_key, state=b"", chained=False,
                         others=others)  # fmt: skip
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


def coalesces(
    timeline: list[Version], time: float, device: str, kind: str, *, together: bool = True
) -> bool:
    """True if a new version with these fields would replace the last one: both are
    edits (a save here, a peer's change) less than ``COALESCE_SECONDS`` apart, and
    either of the same kind by the same device, or (with ``together``) part of
    devices editing together: the last version is already several devices', or
    ``device``'s edit before it came less than ``COALESCE_SECONDS`` before it too
    (their edits alternate). A peer's one change after a save here stays a version
    of its own; devices editing together, which made a version per turn (hundreds a
    minute when apps edit a doc on two devices, each one's state written at the next
    compaction), make one. A binary file's saves never merge (no ``together``): each
    device's is a whole file of its own."""
    last = timeline[-1] if timeline else None
    if last is None or kind not in _COALESCED_KINDS or last.kind not in _COALESCED_KINDS:
        return False
    if time - last.time >= COALESCE_SECONDS:
        return False
    if last.device == device and last.kind == kind and not last.others:
        return True
    if not together:
        return False
    if last.others:
        return True
    before = timeline[-2] if len(timeline) > 1 else None
    return (
        before is not None
        and before.kind in _COALESCED_KINDS
        and device in before.devices
        and last.time - before.time < COALESCE_SECONDS
    )
