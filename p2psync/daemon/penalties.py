"""Devices kept out for a while after exceeding a limit (docs/security.md).

A member that floods us with new docs, or sends an update that crashes the CRDT engine
(which costs a reload of the doc from its log), is disconnected and then refused, and
not dialed, for a growing interval: PENALTY_MIN_S doubling up to PENALTY_MAX_S. A device
with no violation for PENALTY_FORGET_S starts over. Malformed frames are not penalised
here: they cost the sender a new TLS handshake each time, as they would cost anyone.
The clock is passed in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass

PENALTY_MIN_S = 5.0
PENALTY_MAX_S = 600.0
PENALTY_FORGET_S = 3600.0


@dataclass
class _Record:
    strikes: int
    until: float
    last: float


class Penalties:
    """Per-device backoff after limit violations."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._records: dict[Hashable, _Record] = {}

    def punish(self, device: Hashable) -> float:
        """Record a violation by ``device``; return how long it is now kept out (s)."""
        now = self._clock()
        record = self._records.get(device)
        strikes = (
            1 if record is None or now - record.last > PENALTY_FORGET_S else record.strikes + 1
        )
        seconds: float = min(PENALTY_MAX_S, PENALTY_MIN_S * 2.0 ** (strikes - 1))
        self._records[device] = _Record(strikes, now + seconds, now)
        return seconds

    def remaining(self, device: Hashable) -> float:
        """Seconds ``device`` is still kept out (0.0 when it may connect)."""
        record = self._records.get(device)
        return 0.0 if record is None else max(0.0, record.until - self._clock())
