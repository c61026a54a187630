"""Wire encoding of every protocol message: dataclass <-> msgpack map. Pure.

Each frame body is a map whose ``t`` field names the message type. Decoding
validates every field's type and size and raises RemoteProtocolError (code
``bad-message``) on anything else, so nothing malformed reaches the sync engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from p2psync.errors import RemoteProtocolError
from p2psync.protocol.frames import MAX_FRAME_BYTES
from p2psync.protocol.messages import (
    Index,
    IndexEntry,
    IndexRequest,
    SyncMessage,
    SyncStep1,
    SyncStep2,
    Update,
)
from p2psync.protocol.yjs import DIGEST_BYTES, DocVersion, MalformedYjsError, decode_state_vector

MAGIC = "p2psync"
NONCE_BYTES = 32
SHARE_ID_BYTES = 16
MAX_GUID_BYTES = 150
MAX_NAME_CHARS = 64
MAX_VERSIONS = 16
MAX_INDEX_ENTRIES = 1000
MAX_UPDATES_PER_FRAME = 10_000
MAX_CERT_BYTES = 8192
MAX_SIGNATURE_BYTES = 512
MAX_TEXT_CHARS = 1000


@dataclass(frozen=True, slots=True)
class Hello:
    """The first frame each side sends."""

    versions: tuple[int, ...]
    device_name: str
    client_version: str
    nonce: bytes


@dataclass(frozen=True, slots=True)
class Auth:
    """The client's proof of its identity: its certificate and a transcript signature."""

    certificate: bytes
    signature: bytes


@dataclass(frozen=True, slots=True)
class AuthOk:
    """The server accepted the client's proof."""


@dataclass(frozen=True, slots=True)
class Ping:
    """Keepalive; answered with a Pong."""


@dataclass(frozen=True, slots=True)
class Pong:
    """Answer to a Ping."""


@dataclass(frozen=True, slots=True)
class Goodbye:
    """The sender is closing the connection, and why."""

    code: str
    message: str


ControlMessage = Hello | Auth | AuthOk | Ping | Pong | Goodbye
Message = ControlMessage | SyncMessage


def encode(message: Message) -> dict[str, Any]:
    """The frame body of ``message``."""
    match message:
        case Hello():
            return {
                "t": "hello",
                "magic": MAGIC,
                "versions": list(message.versions),
                "name": message.device_name,
                "client": message.client_version,
                "nonce": message.nonce,
            }
        case Auth():
            return {"t": "auth", "cert": message.certificate, "sig": message.signature}
        case AuthOk():
            return {"t": "auth-ok"}
        case Ping():
            return {"t": "ping"}
        case Pong():
            return {"t": "pong"}
        case Goodbye():
            return {"t": "bye", "code": message.code, "message": message.message}
        case IndexRequest():
            return {
                "t": "ireq",
                "s": message.share_id,
                "i": message.index_id,
                "since": message.since,
            }
        case Index():
            entries = [_encode_entry(e) for e in message.entries]
            return {"t": "idx", "s": message.share_id, "i": message.index_id,
                    "max": message.max_sequence, "e": entries}  # fmt: skip
        case SyncStep1():
            return {"t": "s1", "s": message.share_id, "d": message.guid, "sv": message.state_vector}
        case SyncStep2():
            return {"t": "s2", "s": message.share_id, "d": message.guid, "u": message.update}
        case Update():
            return {"t": "upd", "s": message.share_id, "d": message.guid, "u": message.updates}


def _encode_entry(entry: IndexEntry) -> list[Any]:
    sv = entry.version.state_vector
    return [
        entry.guid,
        entry.sequence,
        [[c, k] for c, k in sv.items()],
        entry.version.delete_digest,
    ]


def decode(body: dict[str, Any]) -> Message:
    """The message in a frame body. Raises RemoteProtocolError if it is malformed."""
    kind = body.get("t")
    decoder = _DECODERS.get(kind) if isinstance(kind, str) else None
    if decoder is None:
        raise _bad(f"unknown message type {kind!r}")
    try:
        return decoder(body)
    except MalformedYjsError as exc:
        raise _bad(f"{kind}: {exc}") from None


def _bad(reason: str) -> RemoteProtocolError:
    return RemoteProtocolError(reason, "bad-message")


def _field(body: dict[str, Any], key: str, kind: type[Any], *, max_len: int | None = None) -> Any:
    value = body.get(key)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise _bad(f"{body.get('t')}: field {key!r} must be {kind.__name__}")
    if max_len is not None and len(value) > max_len:
        raise _bad(f"{body.get('t')}: field {key!r} is longer than {max_len}")
    return value


def _uint(body: dict[str, Any], key: str) -> int:
    value: int = _field(body, key, int)
    if not 0 <= value < 2**63:
        raise _bad(f"{body.get('t')}: field {key!r} is out of range")
    return value


def _share(body: dict[str, Any]) -> bytes:
    share: bytes = _field(body, "s", bytes)
    if len(share) != SHARE_ID_BYTES:
        raise _bad(f"{body.get('t')}: share ID must have {SHARE_ID_BYTES} bytes")
    return share


def _guid(value: Any, kind: str) -> str:
    if not isinstance(value, str) or not value or len(value.encode()) > MAX_GUID_BYTES:
        raise _bad(f"{kind}: doc guid must be a string of 1 to {MAX_GUID_BYTES} bytes")
    return value


def _hello(body: dict[str, Any]) -> Hello:
    if body.get("magic") != MAGIC:
        raise RemoteProtocolError("the peer does not speak the p2psync protocol", "bad-magic")
    versions = _field(body, "versions", list, max_len=MAX_VERSIONS)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in versions):
        raise _bad("hello: versions must be integers")
    nonce: bytes = _field(body, "nonce", bytes)
    if len(nonce) != NONCE_BYTES:
        raise _bad(f"hello: nonce must have {NONCE_BYTES} bytes")
    name: str = _field(body, "name", str, max_len=MAX_NAME_CHARS)
    client: str = _field(body, "client", str, max_len=MAX_NAME_CHARS)
    return Hello(tuple(versions), name, client, nonce)


def _auth(body: dict[str, Any]) -> Auth:
    cert = _field(body, "cert", bytes, max_len=MAX_CERT_BYTES)
    return Auth(cert, _field(body, "sig", bytes, max_len=MAX_SIGNATURE_BYTES))


def _goodbye(body: dict[str, Any]) -> Goodbye:
    code = _field(body, "code", str, max_len=MAX_NAME_CHARS)
    return Goodbye(code, _field(body, "message", str, max_len=MAX_TEXT_CHARS))


def _index_request(body: dict[str, Any]) -> IndexRequest:
    index_id = _field(body, "i", bytes, max_len=64)
    return IndexRequest(_share(body), index_id, _uint(body, "since"))


def _index(body: dict[str, Any]) -> Index:
    raw = _field(body, "e", list, max_len=MAX_INDEX_ENTRIES)
    entries = tuple(_entry(item) for item in raw)
    index_id = _field(body, "i", bytes, max_len=64)
    return Index(_share(body), index_id, _uint(body, "max"), entries)


def _entry(item: Any) -> IndexEntry:
    if not isinstance(item, list) or len(item) != 4:
        raise _bad("idx: an entry must be [guid, sequence, state vector, digest]")
    guid, sequence, sv, digest = item
    if not isinstance(sequence, int) or isinstance(sequence, bool) or not 0 <= sequence < 2**63:
        raise _bad("idx: entry sequence out of range")
    if not isinstance(digest, bytes) or len(digest) != DIGEST_BYTES:
        raise _bad("idx: entry digest malformed")
    if not isinstance(sv, list) or len(sv) > MAX_UPDATES_PER_FRAME:
        raise _bad("idx: entry state vector malformed")
    vector: dict[int, int] = {}
    for pair in sv:
        if not (isinstance(pair, list) and len(pair) == 2 and all(_is_uint(x) for x in pair)):
            raise _bad("idx: entry state vector malformed")
        vector[pair[0]] = pair[1]
    return IndexEntry(_guid(guid, "idx"), sequence, DocVersion(vector, digest))


def _is_uint(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 2**53


def _sync_step1(body: dict[str, Any]) -> SyncStep1:
    sv: bytes = _field(body, "sv", bytes, max_len=MAX_FRAME_BYTES)
    decode_state_vector(sv)  # validated here so the engine never sees a bad one
    return SyncStep1(_share(body), _guid(body.get("d"), "s1"), sv)


def _sync_step2(body: dict[str, Any]) -> SyncStep2:
    return SyncStep2(_share(body), _guid(body.get("d"), "s2"), _field(body, "u", bytes))


def _update(body: dict[str, Any]) -> Update:
    updates = _field(body, "u", list, max_len=MAX_UPDATES_PER_FRAME)
    if not updates or not all(isinstance(u, bytes) for u in updates):
        raise _bad("upd: updates must be a non-empty list of byte strings")
    return Update(_share(body), _guid(body.get("d"), "upd"), updates)


_DECODERS: dict[str, Callable[[dict[str, Any]], Message]] = {
    "hello": _hello,
    "auth": _auth,
    "auth-ok": lambda body: AuthOk(),
    "ping": lambda body: Ping(),
    "pong": lambda body: Pong(),
    "bye": _goodbye,
    "ireq": _index_request,
    "idx": _index,
    "s1": _sync_step1,
    "s2": _sync_step2,
    "upd": _update,
}
