"""Which loaded docs may leave memory: the load/unload policy of one share (docs/architecture.md).

A doc counts as active while it is edited or synced: every message, local change or
read about it ``touch``-es it. Docs untouched for ``idle_s`` seconds are offered for
unloading; pinned docs (the manifest, which the mirror reads all the time) never are.
The clock is passed in, so the policy is tested without waiting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

DEFAULT_IDLE_UNLOAD_S = 60.0
MAX_CHECK_INTERVAL_S = 5.0


class Residency:
    """Last activity of each loaded doc, and which of them have been idle long enough."""

    def __init__(
        self, idle_s: float, clock: Callable[[], float], *, pinned: Iterable[str] = ()
    ) -> None:
        self.idle_s = idle_s
        self._clock = clock
        self._pinned = frozenset(pinned)
        self._last_used: dict[str, float] = {}

    @property
    def check_interval_s(self) -> float:
        """How often the owner should look for idle docs."""
        return max(min(self.idle_s / 2, MAX_CHECK_INTERVAL_S), 0.01)

    def touch(self, guid: str) -> None:
        """Doc ``guid`` is in use now."""
        self._last_used[guid] = self._clock()

    def forget(self, guid: str) -> None:
        """Doc ``guid`` left memory."""
        self._last_used.pop(guid, None)

    def is_idle(self, guid: str) -> bool:
        """True if ``guid`` may be unloaded now."""
        if guid in self._pinned:
            return False
        last = self._last_used.get(guid)
        return last is None or self._clock() - last >= self.idle_s

    def idle(self, loaded: Iterable[str]) -> list[str]:
        """The docs of ``loaded`` that may be unloaded now, least recently used first."""
        idle = [guid for guid in loaded if self.is_idle(guid)]
        return sorted(idle, key=lambda guid: self._last_used.get(guid, 0.0))
