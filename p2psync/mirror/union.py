"""Two versions of one text that share no CRDT history, merged with nothing dropped.

A save can become a second doc at its path (a save racing a peer's delete or rename
of the file): the two docs then collide, and one loses the path (``collisions``).
Its text is mostly the winner's lines plus what the save added. ``line_union`` gives
the winner's text with the loser's lines it lacks inserted where they stand in the
loser, and no line of either removed; or None when the two are not one file's
versions (fewer than half of the loser's lines are the winner's), which are kept
apart as a conflict copy instead.
"""

from __future__ import annotations

from difflib import SequenceMatcher

SAME_FILE_SHARE = 0.5
"""The share of the loser's non-blank lines that must be the winner's for the two to
be taken as versions of one file."""


def line_union(kept: str, other: str) -> str | None:
    """``kept`` with the lines of ``other`` it lacks inserted where they stand in
    ``other`` (None: the two are not versions of one file; see the module doc)."""
    ours, theirs = kept.splitlines(keepends=True), other.splitlines(keepends=True)
    if not _same_file(ours, theirs):
        return None
    merged: list[str] = []
    keys = [line.rstrip("\r\n") for line in ours], [line.rstrip("\r\n") for line in theirs]
    matcher = SequenceMatcher(None, *keys, autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        merged += ours[a0:a1]
        if op in ("insert", "replace"):
            merged += theirs[b0:b1]
    return "".join(_ended(merged))


def _same_file(ours: list[str], theirs: list[str]) -> bool:
    held = {line.rstrip("\r\n") for line in ours}
    lines = [line.rstrip("\r\n") for line in theirs if line.strip()]
    if not lines:
        return True  # nothing of its own to bring
    shared = sum(1 for line in lines if line in held)
    return shared >= SAME_FILE_SHARE * len(lines)


def _ended(lines: list[str]) -> list[str]:
    """``lines`` with a line break after every line but the last (a last line without
    one, followed by inserted lines, would be joined with them)."""
    return [line if line.endswith(("\n", "\r")) or i == len(lines) - 1 else line + "\n"
            for i, line in enumerate(lines)]  # fmt: skip
