"""A hybrid logical clock: the order of versions of files synced whole (last writer wins).

A ``Timestamp`` is ``(wall_ms, counter, device)``, compared in that order, so any two
versions are ordered and every device picks the same winner; the device ID bytes break
ties between devices. ``HybridClock`` stamps local events: its time never goes back,
follows the wall clock when it moves forward, and counts events within one
millisecond. Pure: the wall clock is passed in, as a function returning milliseconds.

Drift policy. A peer whose clock runs far ahead must not drag every device's clock into
the future (once adopted, a bad time spreads to every peer and never goes away). So
``observe`` takes a remote time into the clock only up to ``MAX_DRIFT_MS`` ahead of the
local wall clock, and says when it had to hold back, for an event. The remote
timestamp itself is not changed: it still wins against older versions. A local save
made after seeing a version must still replace it, so a save is stamped with
``tick_after(version)``: later than the clock and than that version, however far ahead
the version is, without moving the clock itself there.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

MAX_DRIFT_MS = 60_000
"""How far ahead of the local wall clock a remote time may move the clock."""
MAX_WALL_MS = 2**63 - 1
MAX_COUNTER = 2**32 - 1
"""Events within one millisecond before the clock borrows the next millisecond."""
MAX_DEVICE_BYTES = 64

WireTimestamp = tuple[int, int, bytes]
"""A timestamp as msgpack carries it: ``[wall_ms, counter, device]``."""


@dataclass(frozen=True, order=True, slots=True)
class Timestamp:
    """One point of hybrid logical time; totally ordered by (wall_ms, counter, device).

    Raises ValueError if a field is out of range: ``wall_ms`` and ``counter`` are
    non-negative and bounded (``MAX_WALL_MS``, ``MAX_COUNTER``), ``device`` holds 1 to
    ``MAX_DEVICE_BYTES`` bytes.
    """

    wall_ms: int
    counter: int
    device: bytes

    def __post_init__(self) -> None:
        if not 0 <= self.wall_ms <= MAX_WALL_MS:
            raise ValueError(f"timestamp wall time {self.wall_ms} ms is out of range")
        if not 0 <= self.counter <= MAX_COUNTER:
            raise ValueError(f"timestamp counter {self.counter} is out of range")
        if not 1 <= len(self.device) <= MAX_DEVICE_BYTES:
            raise ValueError(f"timestamp device ID has {len(self.device)} bytes")

    def to_wire(self) -> WireTimestamp:
        """The msgpack-friendly form."""
        return (self.wall_ms, self.counter, self.device)

    @classmethod
    def from_wire(cls, value: object) -> Timestamp:
        """Parse what ``to_wire`` produced (a list or tuple after msgpack).

        Raises ValueError, naming what is wrong, for anything else.
        """
        if not isinstance(value, list | tuple) or len(value) != 3:
            raise ValueError("a timestamp is a list of three fields")
        wall_ms, counter, device = value
        if type(wall_ms) is not int or type(counter) is not int or type(device) is not bytes:
            raise ValueError("a timestamp is two integers (wall time, counter) and device bytes")
        return cls(wall_ms, counter, device)

    def successor(self, device: bytes) -> Timestamp:
        """The smallest timestamp of ``device`` that is later than this one."""
        if device > self.device:
            return Timestamp(self.wall_ms, self.counter, device)
        if self.counter < MAX_COUNTER:
            return Timestamp(self.wall_ms, self.counter + 1, device)
        return Timestamp(self.wall_ms + 1, 0, device)


class HybridClock:
    """The hybrid logical clock of one device.

    ``now`` returns the wall clock in milliseconds since the Unix epoch; it may jump
    backwards (the clock then keeps its time and counts). Not thread-safe: one owner.
    """

    def __init__(self, device: bytes, now: Callable[[], int]) -> None:
        self._now = now
        self._last = Timestamp(0, 0, device)

    @property
    def device(self) -> bytes:
        """The device ID this clock stamps with."""
        return self._last.device

    @property
    def last(self) -> Timestamp:
        """The latest timestamp issued or observed (without drift beyond the bound)."""
        return self._last

    def tick(self) -> Timestamp:
        """A new timestamp for a local event, later than every earlier one."""
        wall = self._wall_ms()
        if wall > self._last.wall_ms:
            self._last = Timestamp(wall, 0, self.device)
        else:
            self._last = self._last.successor(self.device)
        return self._last

    def tick_after(self, previous: Timestamp) -> Timestamp:
        """A new timestamp for a local event that replaces the version stamped
        ``previous`` (a file entry's current timestamp): later than both the clock and
        ``previous``. The clock only takes it in within the drift bound."""
        stamp = self.tick()
        if stamp > previous:
            return stamp
        after = previous.successor(self.device)
        self.observe(after)
        return after

    def observe(self, remote: Timestamp) -> bool:
        """Take a remote timestamp into account, so later ticks come after it.

        Returns False when ``remote`` is more than ``MAX_DRIFT_MS`` ahead of the wall
        clock: the clock then moves only to that bound (the caller reports the peer's
        clock as wrong). Returns True otherwise.
        """
        bound = self._wall_ms() + MAX_DRIFT_MS
        within = remote.wall_ms <= bound
        if not within:
            remote = Timestamp(min(bound, MAX_WALL_MS), 0, remote.device)
        if remote > self._last:
            self._last = Timestamp(remote.wall_ms, remote.counter, self.device)
        return within

    def _wall_ms(self) -> int:
        return min(max(self._now(), 0), MAX_WALL_MS)
