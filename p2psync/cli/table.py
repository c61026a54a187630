"""Aligned text tables for the CLI's human output.

A table is a header row and data rows of strings; columns are separated by two
spaces, numbers can be right-aligned, and trailing blanks are trimmed so the output
is stable for snapshot tests. Nothing here knows what the columns mean.
"""

from __future__ import annotations

from collections.abc import Sequence

COLUMN_GAP = "  "


def render(
    headers: Sequence[str], rows: Sequence[Sequence[str]], *, right: Sequence[int] = ()
) -> str:
    """The table as lines of text (no trailing newline). Columns listed in ``right``
    (by index) are right-aligned. Raises ValueError if a row has the wrong length."""
    for row in rows:
        if len(row) != len(headers):
            raise ValueError(f"row {list(row)!r} has {len(row)} cells, expected {len(headers)}")
    widths = [max(len(cell) for cell in column) for column in zip(headers, *rows, strict=True)]
    lines = []
    for row in (headers, *rows):
        cells = [
            cell.rjust(width) if index in right else cell.ljust(width)
            for index, (cell, width) in enumerate(zip(row, widths, strict=True))
        ]
        lines.append(COLUMN_GAP.join(cells).rstrip())
    return "\n".join(lines)


def fields(pairs: Sequence[tuple[str, str]]) -> str:
    """``label  value`` lines with the values aligned (for one record, like status)."""
    width = max((len(label) for label, _ in pairs), default=0)
    return "\n".join(f"{label.ljust(width)}{COLUMN_GAP}{value}".rstrip() for label, value in pairs)
