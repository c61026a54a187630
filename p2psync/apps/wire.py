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
connection that sent it is closed (docs/apps.md, "Limits"). ``merge_update_frames`` makes
one Update message of several queued for a client that fell behind, and
``merge_update_messages`` one of several a client sent while the one before was stored.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import pycrdt

from p2psync.errors import MalformedYjsError
from p2psync.protocol.awareness import json_problem
from p2psync.protocol.messages import AwarenessState
from p2psync.protocol.yjs import encode_varuint as _varuint
from p2psync.protocol.yjs import read_varuint

UPDATE_PREFIX = bytes((0, 2))
"""How an Update message starts: the sync type, then the Update sub-type."""
MERGE_MAX = 32
"""Updates merged into one message at most (pycrdt's merge is quadratic in their number)."""

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


def merge_update_frames(messages: list[bytes]) -> list[bytes]:
    """``messages`` (well formed, in the order they are to be sent) with each run of
    adjacent Update messages made one Update of their merged updates, ``MERGE_MAX`` at
    most; the others as they are. A client applying the result ends where it would
    have with ``messages``, in fewer frames."""
    merged: list[bytes] = []
    run: list[bytes] = []

    def end_run() -> None:
        if run:
            merged.append(encode_sync(SYNC_UPDATE, merge_update_payloads(run)))
        run.clear()

    for message in messages:
        if message[:2] != UPDATE_PREFIX:
            end_run()
            merged.append(message)
            continue
        decoded = decode(message)
        assert isinstance(decoded, SyncMessage)
        run.append(decoded.payload)
        if len(run) == MERGE_MAX:
            end_run()
    end_run()
    return merged


def merge_update_payloads(updates: list[bytes]) -> bytes:
    """One Yjs v1 update holding ``updates`` (one of them as it is); MalformedYjsError
    if one is not an update."""
    if len(updates) == 1:
        return updates[0]
    try:
        merged: bytes = pycrdt.merge_updates(*updates)
    except Exception as exc:  # pycrdt raises plain exceptions on bad bytes
        raise MalformedYjsError(f"the updates cannot be merged: {exc}") from None
    return merged


def merge_update_messages(queued: list[SyncMessage]) -> list[SyncMessage]:
    """``queued`` with its leading run of Updates made one Update
    (``merge_update_payloads``); what follows the run as it is. Unmerged if one of the
    run is not an update, so that it is the one refused when applied."""
    run = list(itertools.takewhile(lambda m: m.kind == SYNC_UPDATE, queued))
    rest = queued[len(run) :]
    if len(run) < 2:
        return queued
    try:
        merged = merge_update_payloads([m.payload for m in run])
    except MalformedYjsError:
        return queued
    return [SyncMessage(SYNC_UPDATE, merged), *rest]
