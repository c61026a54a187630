"""The one codec of the protocol: message <-> frame body (a msgpack map). Pure.

Each body is a map with short string keys; ``t`` names the message type. ``decode``
validates every field's type, size and range and raises MalformedMessageError (or
MalformedYjsError for a bad state vector) on anything else, so nothing malformed
reaches the sync engine. Unknown keys are ignored, so a later version may add optional
fields. The field table is in docs/protocol.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from p2psync.errors import MalformedMessageError
from p2psync.protocol import awareness
from p2psync.protocol.messages import (
    DEVICE_ID_BYTES,
    INDEX_ID_BYTES,
    JOIN_PROOF_BYTES,
    JOIN_VERIFIER_BYTES,
    MAGIC,
    MAX_ADDRESS_CHARS,
    MAX_AWARENESS_ENTRIES,
    MAX_CERT_BYTES,
    MAX_GUID_BYTES,
    MAX_INDEX_ENTRIES,
    MAX_MEMBER_ADDRESSES,
    MAX_MEMBER_ENTRIES,
    MAX_NAME_CHARS,
    MAX_PROTOCOL_VERSION,
    MAX_SEQUENCE,
    MAX_SIGNATURE_BYTES,
    MAX_TEXT_CHARS,
    MAX_UPDATES_PER_FRAME,
    MAX_VERSIONS,
    MEMBER_MODES,
    NONCE_BYTES,
    SHARE_ID_BYTES,
    Auth,
    AuthOk,
    Awareness,
    DocError,
    Goodbye,
    Hello,
    Index,
    IndexEntry,
    IndexRequest,
    JoinProof,
    MemberEntry,
    MemberList,
    Message,
    Ping,
    Pong,
    SyncMessage,
    SyncStep1,
    SyncStep2,
    Update,
)
from p2psync.protocol.yjs import (
    DIGEST_BYTES,
    DocVersion,
    decode_state_vector,
    encode_state_vector,
)

# The control messages and limits were first defined here; the net layer and the sync
# engine still read them as ``wire.Hello``, ``wire.MAX_INDEX_ENTRIES``... so they stay
# exported.
__all__ = [
    "MAGIC",
    "MAX_CERT_BYTES",
    "MAX_GUID_BYTES",
    "MAX_INDEX_ENTRIES",
    "MAX_NAME_CHARS",
    "MAX_SIGNATURE_BYTES",
    "MAX_TEXT_CHARS",
    "MAX_UPDATES_PER_FRAME",
    "MAX_VERSIONS",
    "NONCE_BYTES",
    "SHARE_ID_BYTES",
    "TYPE_NAMES",
    "Auth",
    "AuthOk",
    "Goodbye",
    "Hello",
    "Message",
    "Ping",
    "Pong",
    "decode",
    "encode",
    "message_type",
]


def encode(message: Message) -> dict[str, Any]:
    """The frame body of ``message``. Does not validate: ``decode`` does."""
    match message:
        case Hello():
            return {"t": "hello", "magic": MAGIC, "versions": list(message.versions),
                    "name": message.device_name, "client": message.client_version,
                    "nonce": message.nonce}  # fmt: skip
        case Auth():
            auth: dict[str, Any] = {"t": "auth", "cert": message.certificate,
                                    "sig": message.signature}  # fmt: skip
            if message.join is not None:
                auth["join"] = [message.join.verifier, message.join.proof]
            return auth
        case AuthOk():
            return {"t": "auth-ok"}
        case Ping():
            return {"t": "ping"}
        case Pong():
            return {"t": "pong"}
        case Goodbye():
            body: dict[str, Any] = {"t": "bye", "code": message.code, "message": message.message}
            if message.versions:
                body["versions"] = list(message.versions)
            return body
        case Awareness():
            return awareness.encode(message)
        case _:
            return _encode_sync(message)


def _encode_sync(message: SyncMessage | DocError | MemberList) -> dict[str, Any]:
    match message:
        case MemberList():
            entries = [[e.device, e.mode, e.clock, e.setter] for e in message.entries]
            members: dict[str, Any] = {"t": "mem", "s": message.share_id, "m": entries}
            if message.addresses:  # flat, one container: [device, address, device, ...]
                members["a"] = [item for pair in message.addresses for item in pair]
            return members
        case IndexRequest():
            return {"t": "ireq", "s": message.share_id, "i": message.index_id,
                    "since": message.since}  # fmt: skip
        case Index():
            entries = [_encode_entry(entry) for entry in message.entries]
            index: dict[str, Any] = {"t": "idx", "s": message.share_id, "i": message.index_id,
                                     "max": message.max_sequence, "e": entries,
                                     "more": message.more}  # fmt: skip
            sizes = [entry.size for entry in message.entries]
            if sizes and None not in sizes:  # optional: sent only when every entry has one
                index["sz"] = sizes
            return index
        case SyncStep1():
            return {"t": "s1", "s": message.share_id, "d": message.guid, "sv": message.state_vector}
        case SyncStep2():
            step2: dict[str, Any] = {"t": "s2", "s": message.share_id, "d": message.guid,
                                     "u": message.update}  # fmt: skip
            if message.more:  # absent on the last (or only) frame, as version 1 sends it
                step2["more"] = True
            return step2
        case Update():
            return {"t": "upd", "s": message.share_id, "d": message.guid, "u": message.updates}
        case DocError():
            return {"t": "derr", "s": message.share_id, "d": message.guid,
                    "code": message.code, "message": message.message}  # fmt: skip


def _encode_entry(entry: IndexEntry) -> list[Any]:
    vector = encode_state_vector(entry.version.state_vector)
    return [entry.guid, entry.sequence, vector, entry.version.delete_digest]


def message_type(body: dict[str, Any]) -> type[Message]:
    """The message class a frame body claims to be (its ``t`` field), without decoding
    the rest, so the caller can refuse a message the state does not allow cheaply.

    Raises MalformedMessageError for an unknown or missing type.
    """
    kind = body.get("t")
    entry = _DECODERS.get(kind) if isinstance(kind, str) else None
    if entry is None:
        raise MalformedMessageError(f"unknown message type {kind!r}")
    return entry[0]


def decode(body: dict[str, Any]) -> Message:
    """The message in frame body ``body``.

    Raises MalformedMessageError (bad magic: code ``bad-magic``) or MalformedYjsError,
    both RemoteProtocolErrors, if any field is missing, of the wrong type or out of its
    limits.
    """
    message_type(body)
    return _DECODERS[body["t"]][1](_Fields(body))


class _Fields:
    """Typed, bounded access to the fields of one frame body."""

    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body
        self.kind = body["t"]

    def bad(self, key: str, problem: str) -> MalformedMessageError:
        return MalformedMessageError(f"{self.kind}: field {key!r} {problem}")

    def raw(self, key: str, kind: type[Any]) -> Any:
        value = self.body.get(key)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise self.bad(key, f"must be {kind.__name__}")
        return value

    def blob(self, key: str, *, size: int | None = None, max_size: int | None = None) -> bytes:
        value: bytes = self.raw(key, bytes)
        if size is not None and len(value) != size:
            raise self.bad(key, f"must have {size} bytes")
        if max_size is not None and len(value) > max_size:
            raise self.bad(key, f"has more than {max_size} bytes")
        return value

    def text(self, key: str, max_chars: int) -> str:
        value: str = self.raw(key, str)
        if len(value) > max_chars:
            raise self.bad(key, f"is longer than {max_chars} characters")
        return value

    def uint(self, key: str, maximum: int = MAX_SEQUENCE) -> int:
        value: int = self.raw(key, int)
        if not 0 <= value <= maximum:
            raise self.bad(key, f"must be in 0..{maximum}")
        return value

    def array(self, key: str, max_items: int) -> list[Any]:
        value: list[Any] = self.raw(key, list)
        if len(value) > max_items:
            raise self.bad(key, f"has more than {max_items} items")
        return value

    def versions(self, key: str) -> tuple[int, ...]:
        items = self.array(key, MAX_VERSIONS)
        if not all(_is_uint(v, MAX_PROTOCOL_VERSION) and v > 0 for v in items):
            raise self.bad(key, f"must hold versions in 1..{MAX_PROTOCOL_VERSION}")
        return tuple(items)

    def share(self) -> bytes:
        return self.blob("s", size=SHARE_ID_BYTES)

    def guid(self) -> str:
        return self.check_guid("d", self.body.get("d"))

    def check_guid(self, key: str, value: Any) -> str:
        # Printable only: a guid names a log file and a path, and must never reach them
        # with control characters (storage.layout refuses those too).
        if (
            not isinstance(value, str)
            or not value.isprintable()
            or not 0 < len(value.encode("utf-8", errors="replace")) <= MAX_GUID_BYTES
        ):
            raise self.bad(key, f"must hold printable doc guids of 1 to {MAX_GUID_BYTES} bytes")
        return value


def _is_uint(value: Any, maximum: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= maximum


def _hello(f: _Fields) -> Hello:
    if f.body.get("magic") != MAGIC:
        raise MalformedMessageError("the peer does not speak the p2psync protocol", "bad-magic")
    return Hello(
        f.versions("versions"),
        f.text("name", MAX_NAME_CHARS),
        f.text("client", MAX_NAME_CHARS),
        f.blob("nonce", size=NONCE_BYTES),
    )


def _auth(f: _Fields) -> Auth:
    join = None
    if "join" in f.body:
        item = f.array("join", 2)
        if (
            len(item) != 2
            or not isinstance(item[0], bytes)
            or len(item[0]) != JOIN_VERIFIER_BYTES
            or not isinstance(item[1], bytes)
            or len(item[1]) != JOIN_PROOF_BYTES
        ):
            raise f.bad("join", f"must be [verifier bin({JOIN_VERIFIER_BYTES}), "
                        f"proof bin({JOIN_PROOF_BYTES})]")  # fmt: skip
        join = JoinProof(item[0], item[1])
    return Auth(
        f.blob("cert", max_size=MAX_CERT_BYTES), f.blob("sig", max_size=MAX_SIGNATURE_BYTES), join
    )


def _member_list(f: _Fields) -> MemberList:
    entries = tuple(_member(f, i) for i in f.array("m", MAX_MEMBER_ENTRIES))
    return MemberList(f.share(), entries, _member_addresses(f) if "a" in f.body else ())


def _member_addresses(f: _Fields) -> tuple[tuple[bytes, str], ...]:
    flat = f.array("a", 2 * MAX_MEMBER_ADDRESSES)
    pairs = tuple(zip(flat[::2], flat[1::2], strict=False))
    if len(flat) % 2 or not all(
        isinstance(device, bytes)
        and len(device) == DEVICE_ID_BYTES
        and isinstance(address, str)
        and 0 < len(address) <= MAX_ADDRESS_CHARS
        for device, address in pairs
    ):
        raise f.bad("a", f"must hold [device bin({DEVICE_ID_BYTES}), address str] pairs")
    return pairs


def _member(f: _Fields, item: Any) -> MemberEntry:
    if not isinstance(item, list) or len(item) != 4:
        raise f.bad("m", "entries must be [device, mode, clock, setter]")
    device, mode, clock, setter = item
    for value in (device, setter):
        if not isinstance(value, bytes) or len(value) != DEVICE_ID_BYTES:
            raise f.bad("m", f"entry devices must have {DEVICE_ID_BYTES} bytes")
    if mode not in MEMBER_MODES:
        raise f.bad("m", f"entry mode must be one of {', '.join(MEMBER_MODES)}")
    if not _is_uint(clock, MAX_SEQUENCE):
        raise f.bad("m", f"entry clock must be in 0..{MAX_SEQUENCE}")
    return MemberEntry(device, mode, clock, setter)


def _goodbye(f: _Fields) -> Goodbye:
    versions = f.versions("versions") if "versions" in f.body else ()
    return Goodbye(f.text("code", MAX_NAME_CHARS), f.text("message", MAX_TEXT_CHARS), versions)


def _index_request(f: _Fields) -> IndexRequest:
    index_id = f.blob("i", max_size=INDEX_ID_BYTES)
    if len(index_id) not in (0, INDEX_ID_BYTES):
        raise f.bad("i", f"must be empty or have {INDEX_ID_BYTES} bytes")
    return IndexRequest(f.share(), index_id, f.uint("since"))


def _index(f: _Fields) -> Index:
    share, index_id = f.share(), f.blob("i", size=INDEX_ID_BYTES)
    max_sequence = f.uint("max")
    more = f.raw("more", bool) if "more" in f.body else False
    entries = tuple(_entry(f, item) for item in f.array("e", MAX_INDEX_ENTRIES))
    if "sz" in f.body:  # optional (docs/protocol.md §3): the docs' sizes, one per entry
        sizes = f.array("sz", MAX_INDEX_ENTRIES)
        if len(sizes) != len(entries) or not all(_is_uint(n, MAX_SEQUENCE) for n in sizes):
            raise f.bad("sz", f"must hold one size in 0..{MAX_SEQUENCE} per entry")
        entries = tuple(replace(e, size=n) for e, n in zip(entries, sizes, strict=True))
    return Index(share, index_id, max_sequence, entries, more)


def _entry(f: _Fields, item: Any) -> IndexEntry:
    if not isinstance(item, list) or len(item) != 4:
        raise f.bad("e", "entries must be [guid, sequence, state vector, digest]")
    guid, sequence, vector, digest = item
    if not _is_uint(sequence, MAX_SEQUENCE):
        raise f.bad("e", f"entry sequence must be in 0..{MAX_SEQUENCE}")
    if not isinstance(vector, bytes):
        raise f.bad("e", "entry state vector must be bytes")
    if not isinstance(digest, bytes) or len(digest) != DIGEST_BYTES:
        raise f.bad("e", f"entry delete-set digest must have {DIGEST_BYTES} bytes")
    version = DocVersion(decode_state_vector(vector), digest)
    return IndexEntry(f.check_guid("e", guid), sequence, version)


def _sync_step1(f: _Fields) -> SyncStep1:
    vector = f.blob("sv")
    decode_state_vector(vector)  # validated here so the engine never sees a bad one
    return SyncStep1(f.share(), f.guid(), vector)


def _sync_step2(f: _Fields) -> SyncStep2:
    more = f.raw("more", bool) if "more" in f.body else False
    return SyncStep2(f.share(), f.guid(), f.blob("u"), more)


def _update(f: _Fields) -> Update:
    updates = f.array("u", MAX_UPDATES_PER_FRAME)
    if not updates or not all(isinstance(u, bytes) for u in updates):
        raise f.bad("u", "must be a non-empty list of byte strings")
    return Update(f.share(), f.guid(), updates)


def _doc_error(f: _Fields) -> DocError:
    code, message = f.text("code", MAX_NAME_CHARS), f.text("message", MAX_TEXT_CHARS)
    return DocError(f.share(), f.guid(), code, message)


def _awareness(f: _Fields) -> Awareness:
    states = awareness.decode_states(f.array("e", MAX_AWARENESS_ENTRIES), f.bad)
    return Awareness(f.share(), f.guid(), states)


_DECODERS: dict[str, tuple[type[Message], Callable[[_Fields], Message]]] = {
    "hello": (Hello, _hello),
    "auth": (Auth, _auth),
    "auth-ok": (AuthOk, lambda f: AuthOk()),
    "ping": (Ping, lambda f: Ping()),
    "pong": (Pong, lambda f: Pong()),
    "bye": (Goodbye, _goodbye),
    "ireq": (IndexRequest, _index_request),
    "idx": (Index, _index),
    "s1": (SyncStep1, _sync_step1),
    "s2": (SyncStep2, _sync_step2),
    "upd": (Update, _update),
    "derr": (DocError, _doc_error),
    "mem": (MemberList, _member_list),
    "aw": (Awareness, _awareness),
}
TYPE_NAMES: dict[type[Message], str] = {kind: name for name, (kind, _) in _DECODERS.items()}
"""The ``t`` value of each message class."""
