"""A local save of a text file, turned into the smallest set of ``Y.Text`` edits.

This module owns one job: given the text a doc holds (``old``) and the text a file now
holds (``new``), compute the edits that turn one into the other (``text_edits``) and
apply them to a pycrdt ``Text`` (``apply_text_change``). It knows nothing of files,
docs, the manifest or the event loop.

Index units: pycrdt ``Text`` indices are **UTF-8 byte offsets** (checked against pycrdt
0.14.13: ``len(text)`` counts UTF-8 bytes, ``insert`` and ``del text[a:b]`` take byte
offsets, and an offset inside a multi-byte character is silently moved). Edits are
therefore computed on code points, so they never split a character, and converted to
byte offsets at the end.

The algorithm (figures in docs/decisions.md, "Text diff: trimming, then Myers on lines,
then on characters"):

1. trim the common prefix and suffix (a few slice comparisons, in C); if what is left
   spans lines, widen it to whole lines, so that no edit of whole lines is anchored
   inside an unchanged line;
2. diff what is left line by line with Myers' O(ND) algorithm: whole lines inserted or
   deleted are edits of their own, whole lines;
3. diff each block of lines changed in place character by character (Myers again), so
   two peers editing different words of one line both keep their edits; a line (or
   block) that became another line (``_became_another_line``) is replaced whole.

No edit deletes unchanged characters to retype them, however few lie between two
changes: a peer's concurrent insertion anchored on them would land inside the retyped
text (docs/decisions.md, "Text diff: no edit retypes unchanged text").

A save merged against an older base knows what the doc deleted since (``Erased``): a
line it changed in place that is gone from the doc is replaced whole, so the saved line
does not go with the deleted one's characters (docs/decisions.md, "Text diff: a line a
peer deleted is replaced whole").

Each Myers run has a work budget; past it the block is replaced whole. That keeps the
time bounded on unrelated texts, and is always correct, only larger.
"""

from __future__ import annotations

import math
from bisect import bisect_right
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass
from itertools import accumulate

import pycrdt

LINE_DIFF_BUDGET = 1_000_000
"""Myers steps (diagonals tried plus matches followed) allowed for the line diff."""
CHAR_DIFF_BUDGET = 400_000
"""Myers steps allowed for the character diff of one changed block of lines."""
MIN_KEPT_RUN = 8
"""A line changed in more than two places, keeping on average fewer characters than
this between its changes, became another line: it is replaced whole."""

Region = tuple[int, int, int, int]
"""``(a0, a1, b0, b1)``: ``old[a0:a1]`` is replaced by ``new[b0:b1]`` (code points)."""


@dataclass(frozen=True, slots=True)
class TextEdit:
    """One edit of a pycrdt ``Text``: delete ``delete`` bytes at ``position``, then
    insert ``insert`` there.

    ``position`` and ``delete`` are UTF-8 byte counts. ``position`` is an offset in the
    text as it stands when this edit is applied, that is after every earlier edit of the
    same list; edits come in ascending position order.
    """

    position: int
    delete: int
    insert: str


@dataclass(frozen=True, slots=True)
class Erased:
    """The parts of an old text that a concurrent edit deleted: disjoint ascending
    ``(start, end)`` ranges of code points. A line changed in place that lies wholly in
    one is replaced whole (see the module doc)."""

    ranges: Sequence[tuple[int, int]] = ()

    @classmethod
    def joined(cls, ranges: Iterable[tuple[int, int]]) -> Erased:
        """Of ascending ``ranges``, those that touch joined into one."""
        out: list[tuple[int, int]] = []
        for start, end in ranges:
            if out and out[-1][1] == start:
                out[-1] = (out[-1][0], end)
            else:
                out.append((start, end))
        return cls(out)

    def covers(self, start: int, end: int) -> bool:
        """Whether every character of ``old[start:end]`` (not empty) was deleted."""
        i = bisect_right(self.ranges, (start, math.inf)) - 1  # the last range from <= start
        return end > start and i >= 0 and self.ranges[i][1] >= end


NOTHING_ERASED = Erased()


def text_edits(old: str, new: str, erased: Erased = NOTHING_ERASED) -> list[TextEdit]:
    """The edits that turn ``old`` into ``new``, in pycrdt ``Text`` index units; a line
    changed in place that ``erased`` covers is replaced whole.

    Pure. Returns an empty list when the texts are equal. Raises ValueError
    (UnicodeEncodeError) if a changed part holds a lone surrogate, which is not text.
    """
    edits: list[TextEdit] = []
    position = 0
    new_done = 0
    for a0, a1, b0, b1 in changed_regions(old, new, erased):
        position += _utf8_len(new[new_done:b0])
        inserted = new[b0:b1]
        edits.append(TextEdit(position, _utf8_len(old[a0:a1]), inserted))
        position += _utf8_len(inserted)
        new_done = b1
    return edits


def apply_text_change(
    text: pycrdt.Text, old: str, new: str, erased: Erased = NOTHING_ERASED
) -> int:
    """Edit ``text``, which holds ``old``, so that it holds ``new`` (``text_edits``);
    return the number of edits made.

    ``text`` must belong to a doc. The edits run in the caller's transaction if one is
    open on that doc, otherwise in one transaction of their own (so observers and the
    update stream see one change). Raises ValueError, before changing anything, if the
    length of ``text`` shows it does not hold ``old``.
    """
    edits = text_edits(old, new, erased)
    if not edits:
        return 0
    doc = text.doc
    if doc is None:
        raise ValueError("the Text is not part of a doc")
    with doc.transaction():
        expected = _utf8_len(old)
        if len(text) != expected:
            raise ValueError(
                f"the Text holds {len(text)} UTF-8 bytes, not the {expected} of the old text"
            )
        for edit in edits:
            if edit.delete:
                del text[edit.position : edit.position + edit.delete]
            if edit.insert:
                text.insert(edit.position, edit.insert)
    return len(edits)


def changed_regions(old: str, new: str, erased: Erased = NOTHING_ERASED) -> list[Region]:
    """The regions of ``old`` replaced in ``new``, ascending, in code points.

    No region deletes characters only to retype them, and whole lines inserted or
    deleted make a region that starts and ends at line starts. A line changed in place
    that ``erased`` covers is one region, the whole line.
    """
    prefix, a, b = _trim(old, new)
    if not a and not b:
        return []
    # Widen the middle to whole lines. A trimmed prefix often ends inside a line (an
    # inserted "tok-2\n" before "tok-1\n" shares "tok-"); an insertion anchored there
    # would take in a peer's concurrent insertion at that line's start.
    start = _line_start_at_or_before(old, new, prefix)
    suffix = _common_line_suffix(old, new, min(len(old), len(new)) - start)
    if not (_has_line_break(a) or _has_line_break(b)):
        # One line changed: by character, unless it became another line.
        in_line = _shift(_char_regions(a, b), prefix - start)
        return _line_regions(old[start : len(old) - suffix], new[start : len(new) - suffix],
                             start, start, erased, regions=in_line)  # fmt: skip
    lines_a = old[start : len(old) - suffix].splitlines(keepends=True)
    lines_b = new[start : len(new) - suffix].splitlines(keepends=True)
    line_regions = myers(lines_a, lines_b, LINE_DIFF_BUDGET)
    if line_regions is None:
        return [(prefix, prefix + len(a), prefix, prefix + len(b))]
    starts_a = list(accumulate(map(len, lines_a), initial=start))
    starts_b = list(accumulate(map(len, lines_b), initial=start))
    regions: list[Region] = []
    for i0, i1, j0, j1 in line_regions:
        a0, a1, b0, b1 = starts_a[i0], starts_a[i1], starts_b[j0], starts_b[j1]
        if i0 == i1 or j0 == j1:
            # Whole lines inserted or deleted stay whole: a character diff would pair
            # their characters with those of neighbouring lines.
            regions.append((a0, a1, b0, b1))
        elif i1 - i0 == j1 - j0:
            # Lines changed in place: each by character against its own old version,
            # so no edit pairs characters of one line with those of another.
            for i, j in zip(range(i0, i1), range(j0, j1), strict=True):
                regions += _line_regions(lines_a[i], lines_b[j], starts_a[i], starts_b[j], erased)
        else:
            # Lines replaced by a different number of lines: like one line, so a line
            # break typed into a line is one edit, and unlike lines are replaced whole.
            regions += _line_regions(old[a0:a1], new[b0:b1], a0, b0, erased)
    return regions


def _line_regions(
    line_a: str,
    line_b: str,
    a0: int,
    b0: int,
    erased: Erased,
    *,
    regions: list[Region] | None = None,
) -> list[Region]:
    """The regions of one line (or block of lines, at ``a0`` in the old text, ``b0``
    in the new) changed in place: its character regions (``regions`` when known,
    relative to the line), or the whole line if it became another one or a concurrent
    edit deleted it (its text without the final line break: a line deleted at the end
    of a file may keep the break before it)."""
    if regions is None:
        regions = _char_regions(line_a, line_b)
    body = len(line_a.rstrip("\r\n"))
    if _became_another_line(line_a, regions) or erased.covers(a0, a0 + body):
        regions = [(0, len(line_a), 0, len(line_b))]
    return _shift(regions, 0, a0, b0)


def _became_another_line(line: str, regions: list[Region]) -> bool:
    """Whether ``line``, changed in ``regions``, became another line: changed in more
    than two places, with what it kept in runs of fewer than ``MIN_KEPT_RUN``
    characters on average. What it kept is then the alphabet two lines share
    (``tok-00``, `` on ``, `` at `` of two log lines), not the same text: a peer that
    deleted the old line would delete it from the new one too, and leave it in
    pieces. A line edited in a word or two, or a paragraph in a few, keeps its edits."""
    if len(regions) <= 2:
        return False
    kept = len(line) - sum(r1 - r0 for r0, r1, _, _ in regions)
    return kept < MIN_KEPT_RUN * (len(regions) + 1)


def _line_start_at_or_before(old: str, new: str, position: int) -> int:
    """The last position at or before ``position`` that starts a line in both texts,
    given that they are equal before ``position``."""
    while not (_is_line_start(old, position) and _is_line_start(new, position)):
        position = max(old.rfind("\n", 0, position - 1), old.rfind("\r", 0, position - 1)) + 1
    return position


def _common_line_suffix(old: str, new: str, limit: int) -> int:
    """The length of the longest common suffix, at most ``limit``, that starts a line
    in both texts."""
    suffix = common_suffix_len(old, new, limit)
    cut = len(old) - suffix
    if suffix and not (_is_line_start(old, cut) and _is_line_start(new, len(new) - suffix)):
        # Inside the common suffix, the first line start is one in both texts.
        suffix = len(old) - _next_line_start(old, cut)
    return suffix


def _is_line_start(text: str, position: int) -> bool:
    if position == 0:
        return True
    before = text[position - 1]
    return before == "\n" or (before == "\r" and text[position : position + 1] != "\n")


def _next_line_start(text: str, position: int) -> int:
    """The first line start after ``position`` (``len(text)`` if none): a CRLF is one
    line break."""
    breaks = [i for i in (text.find("\n", position), text.find("\r", position)) if i >= 0]
    if not breaks:
        return len(text)
    i = min(breaks)
    return i + 2 if text[i : i + 2] == "\r\n" else i + 1


def _char_regions(a: str, b: str) -> list[Region]:
    """Character-level regions of one changed block, trimmed. Unchanged characters
    between two edits stay, however few: deleting and retyping them would move a
    peer's concurrent insertion anchored on them elsewhere."""
    prefix, a_mid, b_mid = _trim(a, b)
    if not a_mid and not b_mid:
        return []
    whole = [(0, len(a_mid), 0, len(b_mid))]
    regions = myers(a_mid, b_mid, CHAR_DIFF_BUDGET) if a_mid and b_mid else whole
    return _shift(regions or whole, prefix)


def _trim(a: str, b: str) -> tuple[int, str, str]:
    """The length of the common prefix, and what is left of each text without the
    common prefix and suffix."""
    prefix = common_prefix_len(a, b)
    suffix = common_suffix_len(a, b, min(len(a), len(b)) - prefix)
    return prefix, a[prefix : len(a) - suffix], b[prefix : len(b) - suffix]


def _shift(regions: list[Region], prefix: int, a0: int = 0, b0: int = 0) -> list[Region]:
    da, db = prefix + a0, prefix + b0
    return [(r0 + da, r1 + da, s0 + db, s1 + db) for r0, r1, s0, s1 in regions]


def myers(a: Sequence[Hashable], b: Sequence[Hashable], budget: int) -> list[Region] | None:
    """The regions where ``a`` and ``b`` differ, by Myers' O(ND) shortest edit script,
    or None when finding it would take more than ``budget`` steps.

    Regions are ascending ``(a0, a1, b0, b1)`` index ranges; a region is a pure delete
    when ``b0 == b1``, a pure insert when ``a0 == a1``. Memory grows with the square of
    the edit distance, which the budget bounds too.
    """
    n, m = len(a), len(b)
    offset = n + m + 1
    frontier = [0] * (2 * offset + 1)
    trace: list[list[int]] = []
    work = 0
    for d in range(n + m + 1):
        for k in range(-d, d + 1, 2):
            if k == -d or (k != d and frontier[offset + k - 1] < frontier[offset + k + 1]):
                x = frontier[offset + k + 1]
            else:
                x = frontier[offset + k - 1] + 1
            y = x - k
            start = x
            while x < n and y < m and a[x] == b[y]:
                x += 1
                y += 1
            work += 1 + x - start
            frontier[offset + k] = x
            if x >= n and y >= m:
                trace.append(frontier[offset - d : offset + d + 1])
                return _backtrack(trace, n, m)
        trace.append(frontier[offset - d : offset + d + 1])
        if work > budget:
            return None
    raise AssertionError("unreachable: a path of length n + m always exists")


def _backtrack(trace: list[list[int]], n: int, m: int) -> list[Region]:
    """Walk the furthest-reaching paths back from ``(n, m)``, merging adjacent edits."""
    reversed_regions: list[Region] = []
    x, y = n, m
    for d in range(len(trace) - 1, 0, -1):
        previous = trace[d - 1]  # index k + (d - 1) holds the x reached on diagonal k
        k = x - y
        down = k == -d or (k != d and previous[k - 1 + d - 1] < previous[k + 1 + d - 1])
        prev_k = k + 1 if down else k - 1
        prev_x = previous[prev_k + d - 1]
        prev_y = prev_x - prev_k
        region = (
            (prev_x, prev_x, prev_y, prev_y + 1) if down else (prev_x, prev_x + 1, prev_y, prev_y)
        )
        if (
            reversed_regions
            and reversed_regions[-1][0] == region[1]
            and reversed_regions[-1][2] == region[3]
        ):
            _, a1, _, b1 = reversed_regions[-1]
            reversed_regions[-1] = (region[0], a1, region[2], b1)
        else:
            reversed_regions.append(region)
        x, y = prev_x, prev_y
    return reversed_regions[::-1]


def common_prefix_len(a: str, b: str) -> int:
    """Length of the longest common prefix, found with O(log n) slice comparisons."""
    return _longest_match(min(len(a), len(b)), lambda lo, hi: a[lo:hi] == b[lo:hi])


def common_suffix_len(a: str, b: str, limit: int) -> int:
    """Length of the longest common suffix, at most ``limit`` (so that it does not
    overlap a common prefix already taken)."""
    la, lb = len(a), len(b)
    return _longest_match(limit, lambda lo, hi: a[la - hi : la - lo] == b[lb - hi : lb - lo])


def _longest_match(limit: int, same: Callable[[int, int], bool]) -> int:
    """The largest ``n <= limit`` such that ``same(0, n)``, given that ``same(lo, hi)``
    compares positions ``lo`` to ``hi`` of both texts (counted from the start or from
    the end): galloping, then a binary search, so the bytes compared stay O(n)."""
    lo, step = 0, 64
    while True:
        hi = min(limit, lo + step)
        if not same(lo, hi):
            break
        if hi == limit:
            return limit
        lo, step = hi, step * 2
    # same(0, lo) holds and same(lo, hi) does not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if same(lo, mid):
            lo = mid
        else:
            hi = mid
    return lo


def _utf8_len(text: str) -> int:
    if text.isascii():
        return len(text)
    return len(text.encode("utf-8"))


def _has_line_break(text: str) -> bool:
    """Whether ``text`` splits into lines (``\\n``, ``\\r`` and CRLF files alike)."""
    return "\n" in text or "\r" in text
