"""The p2psync sync protocol, sans I/O (normative spec: docs/protocol.md).

No sockets, no Trio, no threads, no clocks: bytes and ``now`` go in, events and bytes
come out, h11 style. The net layer drives one ``Connection`` per peer connection::

    conn = Connection(Role.CLIENT, Hello(SUPPORTED_VERSIONS, name, version, nonce),
                      certificate=our_cert_der, now=clock())
    send(conn.start(now=clock()))
    conn.receive_data(received_bytes, now=clock())   # b"" at end of stream
    while (event := conn.next_event()) is not NEED_DATA: ...

Modules:

- ``frames``: u32 length-prefixed msgpack frames with hard size limits, FrameDecoder.
- ``messages``: the frame types (wire values) and their field limits.
- ``wire``: the one codec, message <-> frame body, validating every field.
- ``awareness``: the fields of Awareness frames (version 3: apps' presence).
- ``events``: what ``Connection.next_event`` hands out.
- ``connection``: the state machine (one transition table) and its deadlines.
- ``auth``: the transcript the client signs to prove its identity.
- ``yjs``: Yjs v1 state vectors and delete sets, decoded and compared.
- ``yjs_update``: the shape of a Yjs v1 update, read without pycrdt (for validation).
- ``yjs_split``: a Yjs v1 update split into smaller ones that each fit a frame.

Errors (``p2psync.errors``): every problem caused by the peer is a RemoteProtocolError
whose ``code`` is sent in a Goodbye before closing; our own misuse is a
LocalProtocolError.
"""

from p2psync.errors import (
    FrameTooLargeError,
    LocalProtocolError,
    MalformedFrameError,
    MalformedMessageError,
    MalformedYjsError,
    MessageTooLargeError,
    PeerTimeoutError,
    ProtocolError,
    RemoteProtocolError,
    UnexpectedMessageError,
    VersionMismatchError,
)
from p2psync.protocol.auth import AUTH_CONTEXT, auth_transcript
from p2psync.protocol.connection import (
    HANDSHAKE_TIMEOUT_S,
    IDLE_TIMEOUT_S,
    MAX_HANDSHAKE_FRAME_BYTES,
    NO_COMMON_VERSION,
    PING_INTERVAL_S,
    SUPPORTED_VERSIONS,
    Connection,
    Role,
    State,
)
from p2psync.protocol.events import (
    EOF_CODE,
    NEED_DATA,
    AuthRequested,
    Closed,
    DocErrorReceived,
    Established,
    Event,
    HelloReceived,
    MessageReceived,
    NeedData,
    PingReceived,
    PongReceived,
)
from p2psync.protocol.frames import MAX_FRAME_BYTES, FrameDecoder, decode_body, encode_frame
from p2psync.protocol.messages import (
    EMPTY_STATE_VECTOR,
    INDEX_ID_BYTES,
    MAX_GUID_BYTES,
    MAX_INDEX_ENTRIES,
    MAX_UPDATES_PER_FRAME,
    SHARE_ID_BYTES,
    Auth,
    AuthOk,
    ControlMessage,
    DocError,
    DocMessage,
    Goodbye,
    Hello,
    Index,
    IndexEntry,
    IndexRequest,
    Message,
    Ping,
    Pong,
    SyncMessage,
    SyncStep1,
    SyncStep2,
    Update,
)
from p2psync.protocol.wire import decode, encode
from p2psync.protocol.yjs import (
    DocVersion,
    covers,
    decode_state_vector,
    delete_set_digest,
    encode_state_vector,
    is_behind,
)

__all__ = [
    "AUTH_CONTEXT",
    "EMPTY_STATE_VECTOR",
    "EOF_CODE",
    "HANDSHAKE_TIMEOUT_S",
    "IDLE_TIMEOUT_S",
    "INDEX_ID_BYTES",
    "MAX_FRAME_BYTES",
    "MAX_GUID_BYTES",
    "MAX_HANDSHAKE_FRAME_BYTES",
    "MAX_INDEX_ENTRIES",
    "MAX_UPDATES_PER_FRAME",
    "NEED_DATA",
    "NO_COMMON_VERSION",
    "PING_INTERVAL_S",
    "SHARE_ID_BYTES",
    "SUPPORTED_VERSIONS",
    "Auth",
    "AuthOk",
    "AuthRequested",
    "Closed",
    "Connection",
    "ControlMessage",
    "DocError",
    "DocErrorReceived",
    "DocMessage",
    "DocVersion",
    "Established",
    "Event",
    "FrameDecoder",
    "FrameTooLargeError",
    "Goodbye",
    "Hello",
    "HelloReceived",
    "Index",
    "IndexEntry",
    "IndexRequest",
    "LocalProtocolError",
    "MalformedFrameError",
    "MalformedMessageError",
    "MalformedYjsError",
    "Message",
    "MessageReceived",
    "MessageTooLargeError",
    "NeedData",
    "PeerTimeoutError",
    "Ping",
    "PingReceived",
    "Pong",
    "PongReceived",
    "ProtocolError",
    "RemoteProtocolError",
    "Role",
    "State",
    "SyncMessage",
    "SyncStep1",
    "SyncStep2",
    "UnexpectedMessageError",
    "Update",
    "VersionMismatchError",
    "auth_transcript",
    "covers",
    "decode",
    "decode_body",
    "decode_state_vector",
    "delete_set_digest",
    "encode",
    "encode_frame",
    "encode_state_vector",
    "is_behind",
]
