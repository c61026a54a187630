"""What a Connection hands out from ``next_event``: small frozen values.

Each event is one thing the peer did (or, for Closed, the end of the stream). The caller
reacts to it: verify an AuthRequested and ``accept`` or ``reject``, answer a
PingReceived with a Pong, give a MessageReceived to the sync engine.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from p2psync.protocol.messages import (
    Awareness,
    DocError,
    Hello,
    JoinProof,
    MemberList,
    SyncMessage,
)

EOF_CODE = "eof"
"""The ``code`` of the Closed event for a stream that ended without a Goodbye."""


class NeedData(enum.Enum):
    """The type of NEED_DATA."""

    NEED_DATA = "need-data"


NEED_DATA = NeedData.NEED_DATA
"""No whole frame is buffered: feed more bytes with ``receive_data``."""


@dataclass(frozen=True, slots=True)
class HelloReceived:
    """The peer's Hello; ``version`` is the highest protocol version both sides speak."""

    hello: Hello
    version: int


@dataclass(frozen=True, slots=True)
class AuthRequested:
    """(Server) the client's proof of identity. Verify ``signature`` over ``transcript``
    with the public key of ``certificate`` (DER), decide whether that device may sync,
    then call ``Connection.accept()`` or ``Connection.reject(code, message)``.

    ``transcript`` is None only if the Connection was made without its own
    ``certificate``; build it with ``Connection.transcript`` then. ``join`` is the
    proof of an invite secret a joining client adds (verify it over
    ``auth.join_transcript(transcript)``).
    """

    certificate: bytes
    signature: bytes
    transcript: bytes | None = None
    join: JoinProof | None = None


@dataclass(frozen=True, slots=True)
class Established:
    """(Client) the server accepted our proof: sync messages may flow."""


@dataclass(frozen=True, slots=True)
class MessageReceived:
    """A sync message from the authenticated peer, for the sync engine."""

    message: SyncMessage


@dataclass(frozen=True, slots=True)
class MembersReceived:
    """A share's member list from the authenticated peer, for the daemon's membership
    service (it decides whether that peer may change the members)."""

    message: MemberList


@dataclass(frozen=True, slots=True)
class AwarenessReceived:
    """(Version 3) awareness states of apps on the peer, for the daemon's apps
    endpoint (it decides whether the peer may tell them)."""

    message: Awareness


@dataclass(frozen=True, slots=True)
class DocErrorReceived:
    """The peer could not use one of our frames about one doc (connection stays up)."""

    error: DocError


@dataclass(frozen=True, slots=True)
class PingReceived:
    """The peer checks we are alive: send a Pong."""


@dataclass(frozen=True, slots=True)
class PongReceived:
    """The answer to our Ping."""


@dataclass(frozen=True, slots=True)
class Closed:
    """The peer said Goodbye (``code``, ``message``, and for a version mismatch the
    ``versions`` it speaks), or the stream ended between frames (code EOF_CODE).
    Nothing more will come; close the stream."""

    code: str
    message: str
    versions: tuple[int, ...] = ()


Event = (
    HelloReceived
    | AuthRequested
    | Established
    | MessageReceived
    | MembersReceived
    | AwarenessReceived
    | DocErrorReceived
    | PingReceived
    | PongReceived
    | Closed
)
