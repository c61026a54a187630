"""Calls into a share from outside its own tasks, and their end as it stops.

A peer's message, the log watcher, a control request: each runs inside
``CallGate.call``. When the share stops (``share remove``, daemon shutdown) the gate
refuses new calls and waits for those in flight before the share's writers close, so
nothing it runs is left using a closed log (``ShareService.aclose``).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import trio

from p2psync.errors import UsageError


class CallGate:
    """Counts a share's calls from outside; refuses them once ``close`` began."""

    def __init__(self, name: str) -> None:
        self._name = name
        self.refusing = False
        """Set once the share's own tasks ended: calls from outside are refused."""
        self._calls = 0
        """Calls from outside in flight: the writers close after them."""
        self._calls_done = trio.Event()

    @contextlib.contextmanager
    def call(self) -> Iterator[None]:
        """One call from outside the share's own tasks (a peer's message, the log
        watcher, a control request); refused with UsageError once the share stops."""
        if self.refusing:
            raise UsageError(f"share {self._name} has stopped (removed, or the daemon is stopping)")
        self._calls += 1
        try:
            yield
        finally:
            self._calls -= 1
            if not self._calls and self.refusing:
                self._calls_done.set()

    async def close(self) -> None:
        """Refuse calls from now on and return once those in flight have ended."""
        self.refusing = True
        if self._calls:
            await self._calls_done.wait()
