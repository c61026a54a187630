"""Transfer rates: bytes per second over a short sliding window.

A RateMeter counts bytes in one-second buckets and reports the average over the
last ``window_s`` seconds (or since it started, if that is shorter), so a status
display can show how fast a peer link moves data right now. The clock is passed in.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

RATE_WINDOW_S = 5.0
MIN_SPAN_S = 1.0  # a meter younger than this reports over one second, not a spike


class RateMeter:
    """Bytes counted as they move; ``rate()`` is bytes per second, recent window."""

    def __init__(
        self, window_s: float = RATE_WINDOW_S, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._window_s = window_s
        self._clock = clock
        self._started = clock()
        self._buckets: deque[tuple[int, int]] = deque()  # (whole second, bytes)

    def add(self, nbytes: int) -> None:
        """Count ``nbytes`` moved now."""
        second = int(self._clock())
        if self._buckets and self._buckets[-1][0] == second:
            self._buckets[-1] = (second, self._buckets[-1][1] + nbytes)
        else:
            self._buckets.append((second, nbytes))
            self._forget_old(second)

    def rate(self) -> float:
        """Average bytes per second over the window (0.0 when idle)."""
        now = self._clock()
        oldest = self._forget_old(int(now))
        span = max(MIN_SPAN_S, now - max(self._started, oldest))
        return sum(count for _, count in self._buckets) / span

    def _forget_old(self, second: int) -> int:
        """Drop buckets before the window; return the first second the window keeps."""
        oldest = second - int(self._window_s) + 1
        while self._buckets and self._buckets[0][0] < oldest:
            self._buckets.popleft()
        return oldest
