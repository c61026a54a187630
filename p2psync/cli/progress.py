"""Progress for long CLI work, on standard error only.

On a terminal a bar is redrawn in place; otherwise (a pipe, a log file, CI) a plain
line is printed when the percentage passes a multiple of ten (or, while it is
unknown, when the text changes), so logs stay short.
Commands in ``--json`` mode pass ``enabled=False``: their output is for scripts.
"""

from __future__ import annotations

import sys
from typing import TextIO

BAR_CELLS = 24


class Progress:
    """One progress display; call ``update`` as often as you like, then ``close``."""

    def __init__(self, *, stream: TextIO | None = None, enabled: bool = True) -> None:
        self._stream = stream if stream is not None else sys.stderr
        self._enabled = enabled
        self._tty = enabled and self._stream.isatty()
        self._last: tuple[int, str] | None = None
        self._drawn = False

    def update(self, pct: float | None, text: str) -> None:
        """Show ``pct`` (0 to 100, or None when unknown) and a short ``text``."""
        if not self._enabled:
            return
        if self._tty:
            self._stream.write("\r\x1b[K" + _bar(pct) + "  " + text)
            self._stream.flush()
            self._drawn = True
            return
        key = (-1, text) if pct is None else (int(pct // 10), "")
        if key != self._last:
            self._last = key
            shown = "" if pct is None else f"{pct:.0f}% "
            self._stream.write(f"{shown}{text}\n")
            self._stream.flush()

    def note(self, text: str) -> None:
        """Show ``text`` as a line of its own, with no bar or percentage (in place of
        the bar on a terminal): an outcome no percentage describes."""
        if not self._enabled:
            return
        if self._tty and self._drawn:
            self._stream.write("\r\x1b[K")
            self._drawn = False
        self._stream.write(text + "\n")
        self._stream.flush()

    def close(self) -> None:
        """End the display (a terminal gets its line back)."""
        if self._tty and self._drawn:
            self._stream.write("\n")
            self._stream.flush()
            self._drawn = False


def _bar(pct: float | None) -> str:
    if pct is None:
        return "[" + "?" * BAR_CELLS + "]     "
    filled = round(BAR_CELLS * max(0.0, min(pct, 100.0)) / 100)
    return f"[{'#' * filled}{'-' * (BAR_CELLS - filled)}] {pct:3.0f}%"
