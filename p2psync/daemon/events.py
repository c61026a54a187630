"""The daemon's event bus: what happened, for the control API's subscribers.

Publishing never blocks: each subscriber has a bounded queue, and a subscriber that
falls behind loses its oldest events and is told how many it missed.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import AsyncGenerator
from typing import Any

import trio

SUBSCRIBER_QUEUE_EVENTS = 1000
RECENT_ERRORS = 10  # kept per share (and for the device) for status


class _Subscriber:
    def __init__(self) -> None:
        self.queue: deque[dict[str, Any]] = deque(maxlen=SUBSCRIBER_QUEUE_EVENTS)
        self.dropped = 0
        self.wakeup = trio.Event()


class EventBus:
    """Fan-out of daemon events (plain JSON-ready dicts with a ``type`` and ``time``)."""

    def __init__(self) -> None:
        self._subscribers: set[_Subscriber] = set()
        self._errors: dict[str, deque[dict[str, Any]]] = {}

    def publish(self, type_: str, **fields: Any) -> None:
        """Record an event and hand it to every subscriber. Never blocks."""
        event = {"type": type_, "time": time.time(), **fields}
        if type_ == "error":
            key = str(fields.get("share", ""))
            self._errors.setdefault(key, deque(maxlen=RECENT_ERRORS)).append(event)
        for sub in self._subscribers:
            if len(sub.queue) == sub.queue.maxlen:
                sub.dropped += 1
            sub.queue.append(event)
            sub.wakeup.set()

    def recent_errors(self, share: str = "") -> list[dict[str, Any]]:
        """The last RECENT_ERRORS ``error`` events of ``share`` ("" for the device's
        own, those naming no share), oldest first."""
        return list(self._errors.get(share, ()))

    async def subscribe(self) -> AsyncGenerator[dict[str, Any], None]:
        """Yield events published from now on, until the caller stops iterating."""
        sub = _Subscriber()
        self._subscribers.add(sub)
        try:
            while True:
                await sub.wakeup.wait()
                sub.wakeup = trio.Event()
                if sub.dropped:
                    yield {"type": "events-dropped", "count": sub.dropped, "time": time.time()}
                    sub.dropped = 0
                while sub.queue:
                    yield sub.queue.popleft()
        finally:
            self._subscribers.discard(sub)
