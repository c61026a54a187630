"""How fast unknown devices may be added to the pending list (a token bucket).

Every unknown device that proves a key is listed as *pending* (docs/security.md), at most
MAX_PENDING_DEVICES of them (daemon.peers). A stranger can make new keys cheaply, so
new entries are also rate-limited: a burst of PENDING_BURST, then one every
PENDING_INTERVAL_S; beyond that the device is refused without being listed or
announced (an event per key would flood the GUI). The clock is passed in.
"""

from __future__ import annotations

PENDING_BURST = 20
PENDING_INTERVAL_S = 3.0


class PendingRate:
    """A token bucket: ``allow(now)`` takes one token if there is one."""

    def __init__(self, burst: int = PENDING_BURST, interval_s: float = PENDING_INTERVAL_S) -> None:
        self._burst = burst
        self._interval_s = interval_s
        self._tokens = float(burst)
        self._last: float | None = None

    def allow(self, now: float) -> bool:
        if self._last is not None:
            self._tokens = min(self._burst, self._tokens + (now - self._last) / self._interval_s)
        self._last = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True
