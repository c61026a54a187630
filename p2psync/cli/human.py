"""Values as people read them: relative times, byte sizes, rates, percentages, names."""

from __future__ import annotations

MINUTE_S = 60
HOUR_S = 60 * MINUTE_S
DAY_S = 24 * HOUR_S
BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")


def ago(timestamp: float | None, now: float) -> str:
    """``timestamp`` (Unix seconds) relative to ``now``: "3 s ago", "never" for 0/None."""
    if not timestamp:
        return "never"
    seconds = max(0.0, now - timestamp)
    if seconds < MINUTE_S:
        return f"{int(seconds)} s ago"
    if seconds < HOUR_S:
        return f"{int(seconds // MINUTE_S)} min ago"
    if seconds < DAY_S:
        return f"{int(seconds // HOUR_S)} h ago"
    days = int(seconds // DAY_S)
    return f"{days} day{'s' if days != 1 else ''} ago"


def size(nbytes: float) -> str:
    """A byte count with a binary unit: "812 B", "1.4 KiB", "3.0 MiB"."""
    value = float(nbytes)
    for unit in BYTE_UNITS:
        if value < 1024 or unit == BYTE_UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


def rate(bytes_per_s: float) -> str:
    """A transfer rate: "0 B/s", "1.2 KiB/s"."""
    return f"{size(bytes_per_s)}/s"


def percent(value: float | None) -> str:
    """A percentage as shown in tables ("-" when there is nothing to measure)."""
    if value is None:
        return "-"
    return f"{value:.0f}%" if value in (0.0, 100.0) else f"{value:.1f}%"


def name(text: str) -> str:
    """A file or folder name as printed in a line of a table: each character that is
    not printable (a newline, a control character, a byte that was not UTF-8 in the
    name on disk) as its escape, so a name cannot break the line or the terminal."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode() for c in text)
