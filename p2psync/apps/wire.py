"""The y-websocket wire format (y-protocols' sync, awareness and auth messages), sans I/O.

A message is a varuint type, then its body:

- ``0`` sync: a varuint sub-type (``0`` SyncStep1 with a state vector, ``1`` SyncStep2
  and ``2`` Update with a Yjs v1 update), then the payload as varuint-length bytes;
- ``1`` awareness: varuint-length bytes holding an awareness update (a varuint count,
  then per client a varuint client ID, a varuint clock and its state as a
  varuint-length UTF-8 JSON string, ``null`` for a client that left);
- ``2`` auth: a varuint (``0``: permission denied), then a reason string;
- ``3`` query awareness: nothing.

Every field is checked: anything else is a ``MalformedAppMessageError``, and the
connection that sent it is closed (docs/apps.md, "Limits").
"""

from __future__ import annotations

from dataclasses import dataclass

from p2psync.errors import MalformedYjsError
from p2psync.protocol.awareness import json_problem
from p2psync.protocol.messages import AwarenessState
from p2psync.protocol.yjs import encode_varuint as _varuint
from p2psync.protocol.yjs import read_varuint

MESSAGE_SYNC = 0
MESSAGE_AWARENESS = 1
MESSAGE_AUTH = 2
MESSAGE_QUERY_AWARENESS = 3

SYNC_STEP1 = 0
SYNC_STEP2 = 1
SYNC_UPDATE = 2

AUTH_PERMISSION_DENIED = 0

MAX_AWARENESS_CLIENTS = 64
"""Entries one awareness message may carry."""


class MalformedAppMessageError(ValueError):
    """Bytes that are not a y-websocket message this endpoint takes."""


@dataclass(frozen=True, slots=True)
class SyncMessage:
    kind: int  # SYNC_STEP1, SYNC_STEP2 or SYNC_UPDATE
    payload: bytes


AwarenessEntry = AwarenessState
"""One client's state in an awareness update (the type peers relay too)."""


@dataclass(frozen=True, slots=True)
class AwarenessMessage:
    entries: tuple[AwarenessEntry, ...]


@dataclass(frozen=True, slots=True)
class QueryAwareness:
    pass


@dataclass(frozen=True, slots=True)
class AuthMessage:
    reason: str


AppMessage = SyncMessage | AwarenessMessage | QueryAwareness | AuthMessage


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def varuint(self) -> int:
        try:
            self.pos, value = read_varuint(self.data, self.pos)
        except MalformedYjsError as exc:
            raise MalformedAppMessageError(str(exc)) from None
        return value

    def bytes_(self) -> bytes:
        length = self.varuint()
        if length > len(self.data) - self.pos:
            raise MalformedAppMessageError("a field is longer than the message")
        start, self.pos = self.pos, self.pos + length
        return self.data[start : self.pos]

    def string(self) -> str:
        try:
            return self.bytes_().decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedAppMessageError("a string is not UTF-8") from None

    def end(self) -> None:
        if self.pos != len(self.data):
            raise MalformedAppMessageError("bytes follow the end of the message")


def decode(message: bytes) -> AppMessage:
    """The message ``message`` holds; MalformedAppMessageError if it holds none."""
    reader = _Reader(message)
    kind = reader.varuint()
    decoded: AppMessage
    if kind == MESSAGE_SYNC:
        sub = reader.varuint()
        if sub not in (SYNC_STEP1, SYNC_STEP2, SYNC_UPDATE):
            raise MalformedAppMessageError(f"unknown sync message type {sub}")
        decoded = SyncMessage(sub, reader.bytes_())
    elif kind == MESSAGE_AWARENESS:
        decoded = decode_awareness(reader.bytes_())
    elif kind == MESSAGE_QUERY_AWARENESS:
        decoded = QueryAwareness()
    elif kind == MESSAGE_AUTH:
        reader.varuint()
        decoded = AuthMessage(reader.string())
    else:
        raise MalformedAppMessageError(f"unknown message type {kind}")
    reader.end()
    return decoded


def decode_awareness(update: bytes) -> AwarenessMessage:
    """An awareness update's entries; each state must be JSON text."""
    reader = _Reader(update)
    count = reader.varuint()
    if count > MAX_AWARENESS_CLIENTS:
        raise MalformedAppMessageError(
            f"an awareness update of more than {MAX_AWARENESS_CLIENTS} clients"
        )
    entries = []
    for _ in range(count):
        client, clock, state = reader.varuint(), reader.varuint(), reader.string()
        if (problem := json_problem(state)) is not None:
            raise MalformedAppMessageError(problem)
        entries.append(AwarenessEntry(client, clock, state))
    reader.end()
    return AwarenessMessage(tuple(entries))


def _bytes(data: bytes) -> bytes:
    return _varuint(len(data)) + data


def encode_sync(kind: int, payload: bytes) -> bytes:
    return _varuint(MESSAGE_SYNC) + _varuint(kind) + _bytes(payload)


def encode_awareness(entries: list[AwarenessEntry] | tuple[AwarenessEntry, ...]) -> bytes:
    body = _varuint(len(entries)) + b"".join(
        _varuint(e.client) + _varuint(e.clock) + _bytes(e.state.encode()) for e in entries
    )
    return _varuint(MESSAGE_AWARENESS) + _bytes(body)


def encode_query_awareness() -> bytes:
    return _varuint(MESSAGE_QUERY_AWARENESS)


def encode_permission_denied(reason: str) -> bytes:
    return _varuint(MESSAGE_AUTH) + _varuint(AUTH_PERMISSION_DENIED) + _bytes(reason.encode())
