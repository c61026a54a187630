"""The y-websocket endpoint: rooms of local app clients, each room one doc.

An app connects to ``ws://HOST:PORT/SHARE/GUID?token=TOKEN`` (``GUID`` percent-encoded,
what ``p2psync doc url`` prints). The handshake is refused (HTTP 403) for an
``Origin`` not allowed; anything else that is wrong closes the WebSocket with a code
and a one-sentence reason (``CLOSE_*``, docs/apps.md). A connected client first gets
the doc's SyncStep1 and SyncStep2 (its whole state), so its ``synced`` event comes at
once; then the y-protocols exchange runs: its SyncStep1 is answered, its updates go
to the ``RoomDoc`` (checked like a peer's, stored durably, sent to peers), and every
change of the doc from elsewhere is sent to it (``doc_updated``). Awareness states
are held by ``apps.presence``: relayed among the room's clients and to the peers
(``RoomBackend.relay_awareness``), those of peers' apps (``peer_awareness``) to the
room's clients; removed when their client leaves or after ``timeout_s`` of silence.

A client that sends something malformed, too large or too fast is closed; the doc,
the room's other clients and the other rooms go on.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import parse_qs, unquote, urlsplit

import trio
from trio_websocket import (
    ConnectionClosed,
    WebSocketConnection,
    WebSocketRequest,
    WebSocketServer,
)

from p2psync.apps import wire
from p2psync.apps.presence import DocKey, Presence, PresenceLimits
from p2psync.apps.tokens import token_grants
from p2psync.errors import P2PSyncError, UpdateError
from p2psync.protocol.messages import AwarenessState

log = logging.getLogger(__name__)

CLOSE_UNSUPPORTED = 1003
"""A text frame: y-websocket messages are binary."""
CLOSE_MALFORMED = 1007
"""A message that is not y-websocket, or an update or state vector that is not Yjs v1."""
CLOSE_TOO_BIG = 1009
"""A message over ``AppLimits.max_message_bytes`` (closed by trio-websocket)."""
CLOSE_INTERNAL = 1011
"""The daemon could not take the update (a share stopped, a disk error)."""
CLOSE_BAD_REQUEST = 4400
"""The URL names no room (``/SHARE/GUID``), or its GUID is not percent-encoded UTF-8."""
CLOSE_BAD_TOKEN = 4401
"""No token, or one that does not grant this room's doc."""
CLOSE_NOT_FOUND = 4404
"""No such share, or no file of the share has this doc."""
CLOSE_NOT_TEXT = 4415
"""The room's file is not a text file an app can edit (binary, or chunked)."""
CLOSE_LIMIT = 4429
"""A limit was reached: connections, rooms, clients of a room, awareness, message
rate, or a client too slow to take what is sent to it."""

DRAIN_TIMEOUT_S = 10.0
"""How long the updates a client sent before it left may take to be applied."""
MAX_REASON_BYTES = 120
"""A close frame's reason holds at most 123 bytes."""


@dataclass(frozen=True, slots=True)
class AppLimits:
    """What one endpoint accepts (docs/apps.md, "Limits")."""

    max_message_bytes: int = 8 * 1024 * 1024
    max_connections: int = 256
    max_rooms: int = 64
    max_clients_per_room: int = 64
    max_awareness_state_bytes: int = 16 * 1024
    max_awareness_clients: int = 8
    """Awareness client IDs one connection may hold (a page usually holds one)."""
    messages_per_s: float = 200.0
    message_burst: int = 400
    send_queue: int = 1024
    """Messages waiting to be sent to one client; a client further behind is closed."""


class RoomRefusedError(Exception):
    """A room cannot be opened: closes the connection with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class RoomDoc(Protocol):
    """One doc as a room sees it; the daemon implements it (``daemon.apps``)."""

    def read_only(self) -> str | None:
        """Why the clients' updates are refused now (a receive-only share), or None."""

    def state_vector(self) -> bytes: ...

    def full_state(self) -> bytes: ...

    def diff(self, state_vector: bytes) -> bytes:
        """What a client at ``state_vector`` misses; UpdateError if it is malformed."""

    async def apply(self, update: bytes, origin: object) -> bool:
        """Apply a client's update as checked as a peer's, durably, then send it to
        peers and (by ``doc_updated`` with ``origin``) to the room's other clients.
        False if it depends on changes the doc does not hold (nothing applied);
        UpdateError if it is not a valid Yjs v1 update."""

    def close(self) -> None:
        """The room's last client left."""


class RoomBackend(Protocol):
    def open_room(self, share: str, guid: str) -> RoomDoc:
        """The doc of a room; RoomRefusedError if it cannot be a room."""

    def clients_changed(self, share: str, guid: str, clients: int, *, joined: bool) -> None:
        """A client ``joined`` (else left) the room of doc ``guid``, which now has
        ``clients``."""

    def relay_awareness(self, share: str, guid: str, states: list[AwarenessState]) -> None:
        """Local apps' awareness ``states`` of doc ``guid`` changed: tell the peers."""


class ClientClosedError(Exception):
    """Close this client with ``code`` and ``reason``."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(eq=False)
class _Client:
    room: _Room
    send: trio.MemorySendChannel[bytes]
    cancel: trio.CancelScope
    updates: trio.MemorySendChannel[wire.SyncMessage]
    """The client's SyncStep2 and Update messages, applied in order by ``_applier``."""
    applied: trio.Event = field(default_factory=trio.Event)
    """Set when ``_applier`` has applied all the client sent and ended."""
    awareness: set[int] = field(default_factory=set)
    closing: tuple[int, str] | None = None
    tokens: float = 0.0
    last: float = 0.0
    told_read_only: bool = False

    def queue(self, message: bytes) -> None:
        try:
            self.send.send_nowait(message)
        except trio.WouldBlock:
            self.close(CLOSE_LIMIT, "the client is too slow to take the room's updates")
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            pass

    def close(self, code: int, reason: str) -> None:
        if self.closing is None:
            self.closing = (code, reason)
        self.cancel.cancel()


@dataclass(eq=False)
class _Room:
    key: tuple[str, str]
    doc: RoomDoc
    clients: set[_Client] = field(default_factory=set)

    def broadcast(self, message: bytes, *, skip: _Client | None = None) -> None:
        for client in list(self.clients):
            if client is not skip:
                client.queue(message)


def _short(reason: str) -> str:
    data = reason.encode()
    if len(data) <= MAX_REASON_BYTES:
        return reason
    return data[: MAX_REASON_BYTES - 3].decode(errors="ignore") + "..."


def parse_target(target: str) -> tuple[str, str, str | None]:
    """Share, doc guid and token of a request target ``/SHARE/GUID?token=…``;
    RoomRefusedError if it names no room or its guid is not UTF-8."""
    parts = urlsplit(target)
    share, sep, quoted = parts.path.lstrip("/").partition("/")
    try:
        guid = unquote(quoted, errors="strict") if sep else ""
    except UnicodeDecodeError:
        raise RoomRefusedError(
            CLOSE_BAD_REQUEST, "the URL's doc is not UTF-8: use p2psync doc url"
        ) from None
    if not share or not guid:
        raise RoomRefusedError(CLOSE_BAD_REQUEST, "the URL names no room: use p2psync doc url")
    tokens = parse_qs(parts.query).get("token", [])
    return share, guid, tokens[0] if len(tokens) == 1 else None


class AppServer:
    """The endpoint. ``await nursery.start(server.run, listeners)``; the daemon calls
    ``doc_updated`` for every change of a doc that did not come from the client."""

    def __init__(
        self,
        backend: RoomBackend,
        secret: bytes,
        *,
        allowed_origins: Iterable[str] = (),
        limits: AppLimits | None = None,
        presence: PresenceLimits | None = None,
    ) -> None:
        self._backend = backend
        self._secret = secret
        self.allowed_origins = frozenset(allowed_origins)
        self.limits = limits or AppLimits()
        self.presence = Presence(presence or PresenceLimits())
        self.rooms: dict[tuple[str, str], _Room] = {}
        self.connections = 0

    async def run(
        self,
        listeners: list[trio.SocketListener],
        *,
        task_status: trio.TaskStatus[WebSocketServer] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        server = WebSocketServer(
            self._handle, listeners, max_message_size=self.limits.max_message_bytes,
            message_queue_size=1, connect_timeout=10, disconnect_timeout=5,
        )  # fmt: skip
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._expire_awareness)
            await nursery.start(server.run)
            task_status.started(server)

    async def _expire_awareness(self) -> None:
        """Every tenth of the timeout (as y-protocols checks), remove the states not
        renewed in time."""
        while True:
            await trio.sleep(self.presence.limits.timeout_s / 10)
            for (share, guid), expired in self.presence.expire(trio.current_time()).items():
                self._to_room((share, guid), expired.states)
                if expired.local:
                    self._backend.relay_awareness(share, guid, expired.local)

    def peer_awareness(
        self, share: str, guid: str, peer: str, states: tuple[AwarenessState, ...]
    ) -> list[AwarenessState]:
        """Awareness ``states`` of doc ``guid`` from ``peer``'s apps: those taken go to
        the room's clients, and are returned (for the other peers)."""
        taken = self.presence.from_peer((share, guid), peer, states, trio.current_time())
        self._to_room((share, guid), taken)
        return taken

    def _to_room(
        self, key: DocKey, states: list[AwarenessState], skip: _Client | None = None
    ) -> None:
        room = self.rooms.get(key)
        if room is not None and states:
            room.broadcast(wire.encode_awareness(states), skip=skip)

    def _awareness_message(self, room: _Room) -> bytes | None:
        states = self.presence.states(room.key)
        return wire.encode_awareness(states) if states else None

    def doc_updated(
        self, share: str, guid: str, updates: list[bytes], origin: object = None
    ) -> None:
        """Doc ``guid`` of ``share`` integrated ``updates``: send them to the room's
        clients (but the one they came from)."""
        room = self.rooms.get((share, guid))
        if room is None:
            return
        skip = origin if isinstance(origin, _Client) else None
        for update in updates:
            room.broadcast(wire.encode_sync(wire.SYNC_UPDATE, update), skip=skip)

    def close_room(self, share: str, guid: str, code: int, reason: str) -> None:
        """Close every client of the room of doc ``guid`` with ``code`` and ``reason``:
        the doc can be a room no more (its file became a chunked one)."""
        room = self.rooms.get((share, guid))
        for client in list(room.clients) if room is not None else []:
            client.close(code, reason)

    def clients(self) -> dict[tuple[str, str], int]:
        """Connected clients per room (share, guid)."""
        return {key: len(room.clients) for key, room in self.rooms.items()}

    # -- one connection ----------------------------------------------------------

    async def _handle(self, request: WebSocketRequest) -> None:
        origin = next((v for k, v in request.headers if k.lower() == b"origin"), None)
        if origin is not None and origin.decode(errors="replace") not in self.allowed_origins:
            log.info("apps: refused a connection from origin %r", origin)
            await request.reject(403, body=b"this Origin is not in [apps] allowed_origins\n")
            return
        if self.connections >= self.limits.max_connections:
            log.info("apps: refused a connection: %d connections already", self.connections)
            await request.reject(503, body=b"too many app connections\n")
            return
        self.connections += 1
        try:
            ws = await request.accept()
            await self._serve(ws, request.path)
        except ConnectionClosed:
            pass
        except Exception:  # a bug: this connection ends, the endpoint goes on
            log.exception("apps: a connection failed")
        finally:
            self.connections -= 1

    async def _serve(self, ws: WebSocketConnection, target: str) -> None:
        try:
            room = self._join(target)
        except RoomRefusedError as refused:
            log.info("apps: refused %s: %s", target.partition("?")[0], refused.reason)
            await ws.aclose(refused.code, _short(refused.reason))
            return
        send, receive = trio.open_memory_channel[bytes](self.limits.send_queue)
        to_apply, updates = trio.open_memory_channel[wire.SyncMessage](self.limits.send_queue)
        client = _Client(room, send, trio.CancelScope(), to_apply,
                         tokens=self.limits.message_burst, last=trio.current_time())  # fmt: skip
        room.clients.add(client)
        self._backend.clients_changed(*room.key, len(room.clients), joined=True)
        try:
            client.queue(wire.encode_sync(wire.SYNC_STEP1, room.doc.state_vector()))
            client.queue(wire.encode_sync(wire.SYNC_STEP2, room.doc.full_state()))
            if (awareness := self._awareness_message(room)) is not None:
                client.queue(awareness)
            with client.cancel:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._writer, ws, receive, client)
                    nursery.start_soon(self._applier, updates, client)
                    await self._reader(ws, client)
        finally:
            self._leave(client)
            send.close()
        if client.closing is not None:
            code, reason = client.closing
            log.info("apps: closed a client of %s: %s", room.key[1], reason)
            with trio.move_on_after(5):
                await ws.aclose(code, _short(reason))

    def _join(self, target: str) -> _Room:
        share, guid, token = parse_target(target)
        if token is None:
            raise RoomRefusedError(CLOSE_BAD_TOKEN, "no token: use the URL p2psync doc url prints")
        if not token_grants(self._secret, token, share, guid):
            raise RoomRefusedError(
                CLOSE_BAD_TOKEN, "the token does not grant this doc: ask p2psync doc url again"
            )
        key = (share, guid)
        room = self.rooms.get(key)
        if room is None:
            if len(self.rooms) >= self.limits.max_rooms:
                raise RoomRefusedError(CLOSE_LIMIT, "too many rooms open")
            room = _Room(key, self._backend.open_room(share, guid))
            self.rooms[key] = room
        elif len(room.clients) >= self.limits.max_clients_per_room:
            raise RoomRefusedError(CLOSE_LIMIT, "too many clients in this room")
        return room

    def _leave(self, client: _Client) -> None:
        room = client.room
        room.clients.discard(client)
        self._backend.clients_changed(*room.key, len(room.clients), joined=False)
        for (share, guid), gone in self.presence.app_left(client, trio.current_time()).items():
            self._to_room((share, guid), gone)
            self._backend.relay_awareness(share, guid, gone)
        if not room.clients and self.rooms.get(room.key) is room:
            del self.rooms[room.key]
            room.doc.close()

    async def _writer(
        self, ws: WebSocketConnection, receive: trio.MemoryReceiveChannel[bytes], client: _Client
    ) -> None:
        """Send the client what is queued for it. What was queued while a message was
        being sent goes out together, adjacent Updates merged into one (a busy room
        costs a client that fell behind fewer frames)."""
        try:
            async with receive:
                async for message in receive:
                    queued = [message]
                    with contextlib.suppress(trio.WouldBlock, trio.EndOfChannel):
                        while len(queued) < self.limits.send_queue:
                            queued.append(receive.receive_nowait())
                    for frame in wire.merge_update_frames(queued) if len(queued) > 1 else queued:
                        await ws.send_message(frame)
        except ConnectionClosed:
            client.cancel.cancel()

    async def _reader(self, ws: WebSocketConnection, client: _Client) -> None:
        """Take the client's messages until it leaves or sends something it must be
        closed for (``client.closing``); then, what it sent before is applied before
        the scope is cancelled: nothing it sent is lost."""
        try:
            await self._read(ws, client)
        except ClientClosedError as closed:
            if client.closing is None:
                client.closing = (closed.code, closed.reason)
        except ConnectionClosed as closed:
            too_big = closed.reason is not None and closed.reason.code == CLOSE_TOO_BIG
            if too_big:  # closed by trio-websocket, which logs nothing: say why
                log.warning("apps: closed a client of %s: it sent a message over %d bytes "
                            "(an edit that large cannot be taken)", client.room.key[1],
                            self.limits.max_message_bytes)  # fmt: skip
        await client.updates.aclose()
        with trio.move_on_after(DRAIN_TIMEOUT_S):
            await client.applied.wait()
        client.cancel.cancel()

    async def _read(self, ws: WebSocketConnection, client: _Client) -> None:
        while True:
            message = await ws.get_message()
            if isinstance(message, str):
                raise ClientClosedError(
                    CLOSE_UNSUPPORTED, "text frames are not y-websocket messages"
                )
            self._charge(client)
            try:
                decoded = wire.decode(message)
            except wire.MalformedAppMessageError as exc:
                raise ClientClosedError(CLOSE_MALFORMED, f"malformed message: {exc}") from None
            await self._on_message(client, decoded, message)

    def _charge(self, client: _Client) -> None:
        """A token bucket per client: ``messages_per_s``, bursts of ``message_burst``."""
        now = trio.current_time()
        limits = self.limits
        refill = (now - client.last) * limits.messages_per_s
        client.tokens = min(limits.message_burst, client.tokens + refill)
        client.last = now
        if client.tokens < 1:
            raise ClientClosedError(CLOSE_LIMIT, "too many messages per second")
        client.tokens -= 1

    async def _on_message(self, client: _Client, message: wire.AppMessage, raw: bytes) -> None:
        room = client.room
        match message:
            case wire.SyncMessage(kind=wire.SYNC_STEP1):
                try:
                    client.queue(wire.encode_sync(wire.SYNC_STEP2, room.doc.diff(message.payload)))
                except UpdateError as exc:
                    raise ClientClosedError(CLOSE_MALFORMED, str(exc)) from None
            case wire.SyncMessage():
                await client.updates.send(message)
            case wire.AwarenessMessage():
                self._awareness(client, message)
            case wire.QueryAwareness():
                if (awareness := self._awareness_message(room)) is not None:
                    client.queue(awareness)
            case wire.AuthMessage():
                pass

    async def _applier(
        self, updates: trio.MemoryReceiveChannel[wire.SyncMessage], client: _Client
    ) -> None:
        """Apply the client's updates in order. Those that came while one was being
        stored durably are applied as one, their Updates merged: a client's edits wait
        for one group commit, not one each (the reader goes on meanwhile)."""
        try:
            async with updates:
                async for message in updates:
                    queued = [message]
                    with contextlib.suppress(trio.WouldBlock, trio.EndOfChannel):
                        while message.kind == wire.SYNC_UPDATE and len(queued) < wire.MERGE_MAX:
                            queued.append(updates.receive_nowait())
                            if queued[-1].kind != wire.SYNC_UPDATE:
                                break
                    for one in wire.merge_update_messages(queued):
                        await self._client_update(client, one)
        except ClientClosedError as closed:
            client.close(closed.code, closed.reason)
        finally:
            client.applied.set()

    async def _client_update(self, client: _Client, message: wire.SyncMessage) -> None:
        room = client.room
        why = room.doc.read_only()
        if why is not None:  # as y-protocols' read-only servers: dropped, and said once
            if not client.told_read_only:
                client.told_read_only = True
                client.queue(wire.encode_permission_denied(why))
            return
        try:
            held = await room.doc.apply(message.payload, client)
        except UpdateError as exc:
            raise ClientClosedError(CLOSE_MALFORMED, str(exc)) from None
        except P2PSyncError as exc:
            raise ClientClosedError(CLOSE_INTERNAL, str(exc)) from None
        if held:
            return
        if message.kind == wire.SYNC_STEP2:
            raise ClientClosedError(
                CLOSE_MALFORMED, "the SyncStep2 depends on changes it does not bring"
            )
        # A live update skipping ahead: ask for all we miss (its SyncStep2 brings it).
        client.queue(wire.encode_sync(wire.SYNC_STEP1, room.doc.state_vector()))

    def _awareness(self, client: _Client, message: wire.AwarenessMessage) -> None:
        room, limits = client.room, self.limits
        for entry in message.entries:
            if len(entry.state.encode()) > limits.max_awareness_state_bytes:
                raise ClientClosedError(CLOSE_LIMIT, "an awareness state is too large")
        claimed = self.presence.claims(room.key, client, message.entries)
        if len(client.awareness | claimed) > limits.max_awareness_clients:
            raise ClientClosedError(CLOSE_LIMIT, "too many awareness client IDs")
        taken = self.presence.from_app(room.key, client, message.entries, trio.current_time())
        for entry in taken:
            (client.awareness.discard if entry.removed else client.awareness.add)(entry.client)
        if taken:
            room.broadcast(wire.encode_awareness(taken), skip=client)
            self._backend.relay_awareness(*room.key, taken)
