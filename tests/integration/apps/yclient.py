"""A minimal y-websocket client for the tests: trio-websocket for the transport and
pycrdt's own y-protocols helpers (not p2psync's codec) for the messages, so the
endpoint is checked against an independent implementation."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

import pycrdt
import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, open_websocket_url

DEADLINE_S = 30.0


class YClient:
    """One app: a pycrdt Doc bound to a room. Local edits are sent as Updates; the
    server's sync messages are answered; awareness updates are collected and applied
    to ``presence`` (pycrdt's y-protocols Awareness, its timeout not started)."""

    def __init__(self, ws: WebSocketConnection, client_id: int) -> None:
        self.ws = ws
        self.doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=client_id)
        self.text = self.doc.get("content", type=pycrdt.Text)
        self.synced = trio.Event()
        self.closed: ConnectionClosed | None = None
        self.auth: list[bytes] = []
        self.awareness: list[bytes] = []
        self.presence = pycrdt.Awareness(self.doc)
        self._remote = False
        self._outbox: list[bytes] = []
        self.doc.observe(self._on_update)

    def _on_update(self, event: pycrdt.TransactionEvent) -> None:
        if not self._remote:
            self._outbox.append(pycrdt.create_update_message(event.update))

    async def flush(self) -> None:
        """Send the local edits made since the last flush."""
        outbox, self._outbox = self._outbox, []
        for message in outbox:
            await self.ws.send_message(message)

    async def edit(self, change: Callable[[pycrdt.Text], None]) -> None:
        change(self.text)
        await self.flush()

    async def set_presence(self, state: dict[str, Any] | None) -> None:
        """Set this app's awareness state (None: leave) and send it, as a provider does."""
        self.presence.set_local_state(state)
        update = self.presence.encode_awareness_update([self.doc.client_id])
        await self.ws.send_message(pycrdt.create_awareness_message(update))

    def peers_presence(self) -> dict[int, Any]:
        """The awareness states of the other apps, as this app sees them."""
        return {c: s for c, s in self.presence.states.items() if c != self.doc.client_id}

    async def run(self) -> None:
        try:
            await self.ws.send_message(pycrdt.create_sync_message(self.doc))
            while True:
                message = await self.ws.get_message()
                assert isinstance(message, bytes)
                self._take(message)
                await self.flush()
        except ConnectionClosed as closed:
            self.closed = closed

    def _take(self, message: bytes) -> None:
        kind = message[0]
        if kind == pycrdt.YMessageType.SYNC:
            self._remote = True
            try:
                reply = pycrdt.handle_sync_message(message[1:], self.doc)
            finally:
                self._remote = False
            if reply is not None:
                self._outbox.append(reply)
            if message[1] == pycrdt.YSyncMessageType.SYNC_STEP2:
                self.synced.set()
        elif kind == pycrdt.YMessageType.AWARENESS:
            self.awareness.append(update := pycrdt.read_message(message[1:]))
            self.presence.apply_awareness_update(update, "server")
        else:
            self.auth.append(message)


@asynccontextmanager
async def connect(url: str, *, client_id: int = 7, **kwargs: Any) -> AsyncIterator[YClient]:
    async with open_websocket_url(url, **kwargs) as ws, trio.open_nursery() as nursery:
        client = YClient(ws, client_id)
        nursery.start_soon(client.run)
        yield client
        nursery.cancel_scope.cancel()


async def until(condition: Callable[[], bool], what: str, deadline_s: float = DEADLINE_S) -> None:
    """Poll ``condition`` (the event loop runs meanwhile) until it holds."""
    end = time.monotonic() + deadline_s
    while not condition():
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await trio.sleep(0.02)


async def until_blocking(condition: Callable[[], bool], what: str) -> None:
    """``until`` for a condition that blocks (a CLI call): run in a thread."""
    end = time.monotonic() + DEADLINE_S
    while not await trio.to_thread.run_sync(condition):
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        await trio.sleep(0.05)
