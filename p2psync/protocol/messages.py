"""The messages of the sync protocol, as the code on both sides of the wire sees them.

These are wire types: small frozen values, one per frame type, with the limits the
codec (``wire.py``) enforces on each field. The sync engine (``replica/``) builds and
reads them; nothing here knows how they are encoded. ``docs/protocol.md`` is the spec.

- Handshake and control: Hello, Auth, AuthOk, Ping, Pong, Goodbye.
- Sync, after authentication: IndexRequest, Index, SyncStep1, SyncStep2, Update
  (``SyncMessage``, what the sync engine consumes) and DocError (a report about one doc).
- Membership: JoinProof (inside an Auth) and MemberList (a share's member map).
- Presence (version 3): Awareness, the y-protocols awareness states of local apps
  (codec: ``protocol.awareness``).
"""

from __future__ import annotations

from dataclasses import dataclass

from p2psync.protocol.yjs import DocVersion

MAGIC = "p2psync"
"""The first field of every Hello: a peer that does not send it is not a p2psync peer."""
NONCE_BYTES = 32
SHARE_ID_BYTES = 16
INDEX_ID_BYTES = 8
MAX_GUID_BYTES = 150
"""A doc guid is 1 to 150 bytes of UTF-8."""
MAX_NAME_CHARS = 64
"""Device names, client versions and Goodbye/DocError codes."""
MAX_TEXT_CHARS = 1000
"""Human-readable messages in Goodbye and DocError frames."""
MAX_VERSIONS = 16
MAX_PROTOCOL_VERSION = 0xFFFF
MAX_CERT_BYTES = 8192
MAX_SIGNATURE_BYTES = 512
MAX_INDEX_ENTRIES = 1000
"""Docs per Index frame; a longer index is sent as several frames (``more``)."""
MAX_UPDATES_PER_FRAME = 10_000
DEVICE_ID_BYTES = 32
JOIN_VERIFIER_BYTES = 32
JOIN_PROOF_BYTES = 64
MAX_MEMBER_ENTRIES = 1000
"""Entries per MemberList frame (and members per share, see replica.membership)."""
MAX_MEMBER_ADDRESSES = 1000
"""(device, address) pairs per MemberList frame (its optional ``a`` field)."""
MAX_ADDRESS_CHARS = 300
"""One ``HOST:PORT`` in a MemberList: a hostname of 253 characters and a port fit."""
MEMBER_MODES = ("send-receive", "receive-only", "send-only", "removed")
"""The modes a MemberList entry may carry; ``removed`` is a removal."""
MAX_SEQUENCE = 2**63 - 1
"""Sequence numbers are unsigned and fit in a signed 64-bit integer."""

MAX_AWARENESS_ENTRIES = 64
"""Client states per Awareness frame."""
MAX_AWARENESS_STATE_BYTES = 16 * 1024
"""One client's awareness state: JSON text of at most 16 KiB (UTF-8)."""
MAX_AWARENESS_NUMBER = 2**53 - 1
"""Awareness client IDs and clocks are lib0 varuints (JavaScript safe integers)."""

EMPTY_STATE_VECTOR = b"\x00"
"""The Yjs v1 state vector of an empty doc: zero clients."""


# -- handshake and control ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Hello:
    """The first frame in each direction: who is speaking, and which versions it speaks.

    ``nonce`` is 32 fresh random bytes per connection; the client's Auth signs both
    sides' nonces, so a proof cannot be replayed.
    """

    versions: tuple[int, ...]
    device_name: str
    client_version: str
    nonce: bytes


@dataclass(frozen=True, slots=True)
class JoinProof:
    """(Inside an Auth) the client knows the secret of an invite: ``verifier`` names
    the invite (the public key derived from its secret), ``proof`` is the signature of
    ``auth.join_transcript`` with the matching private key."""

    verifier: bytes
    proof: bytes


@dataclass(frozen=True, slots=True)
class Auth:
    """(Client → server) the client's certificate (DER) and its signature over the
    transcript (``auth.auth_transcript``); a joining client adds its ``join`` proof."""

    certificate: bytes
    signature: bytes
    join: JoinProof | None = None


@dataclass(frozen=True, slots=True)
class AuthOk:
    """(Server → client) the client's proof was accepted: sync messages may flow."""


@dataclass(frozen=True, slots=True)
class Ping:
    """Keepalive, sent by a side that has been quiet; answered with a Pong."""


@dataclass(frozen=True, slots=True)
class Pong:
    """The answer to a Ping."""


@dataclass(frozen=True, slots=True)
class Goodbye:
    """The sender is closing the connection: ``code`` is a short machine-readable word
    (e.g. ``no-common-version``, ``timeout``, ``not-a-member``), ``message`` a sentence
    for people. A version mismatch lists the sender's ``versions``."""

    code: str
    message: str
    versions: tuple[int, ...] = ()


# -- sync ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IndexEntry:
    """One doc as a replica's index advertises it: the sequence number of its last
    change in that index, and its version (state vector and delete-set digest).
    ``size``: about how many bytes the doc's whole state takes (the sender's estimate,
    for the receiver's progress display; None: not announced, as older peers send)."""

    guid: str
    sequence: int
    version: DocVersion
    size: int | None = None


@dataclass(frozen=True, slots=True)
class IndexRequest:
    """Send me the entries of your index of share ``share_id`` changed after ``since``.

    ``index_id`` is the id of the index those sequence numbers belong to (empty if the
    sender never saw one); if it is not the current one, the answer is the whole index.
    """

    share_id: bytes
    index_id: bytes
    since: int


@dataclass(frozen=True, slots=True)
class Index:
    """Some entries of a replica's index of one share, oldest change first.

    ``max_sequence`` is how far the receiver may consider itself up to date once it has
    this frame; ``more`` says that further Index frames of the same answer follow.
    """

    share_id: bytes
    index_id: bytes
    max_sequence: int
    entries: tuple[IndexEntry, ...]
    more: bool = False


@dataclass(frozen=True, slots=True)
class SyncStep1:
    """My state vector of doc ``guid``: send me what I am missing (as a SyncStep2)."""

    share_id: bytes
    guid: str
    state_vector: bytes


@dataclass(frozen=True, slots=True)
class SyncStep2:
    """The Yjs v1 update you were missing of doc ``guid``, or a part of it: ``more``
    says that further SyncStep2 frames of the same answer follow (a doc whose state
    does not fit one frame is answered in several, see ``protocol.yjs_split``)."""

    share_id: bytes
    guid: str
    update: bytes
    more: bool = False


@dataclass(frozen=True, slots=True)
class Update:
    """Live changes to doc ``guid``, as a batch of Yjs v1 updates (at least one)."""

    share_id: bytes
    guid: str
    updates: list[bytes]


@dataclass(frozen=True, slots=True)
class DocError:
    """I could not use your last frame about doc ``guid`` (e.g. a malformed update);
    the connection stays up. ``code`` is a short word, ``message`` a sentence."""

    share_id: bytes
    guid: str
    code: str
    message: str


@dataclass(frozen=True, slots=True)
class MemberEntry:
    """One device in a share's member map: its ``mode`` (one of MEMBER_MODES) as set
    by the device ``setter`` at logical time ``clock``; the highest (clock, setter)
    wins (replica.membership)."""

    device: bytes
    mode: str
    clock: int
    setter: bytes


@dataclass(frozen=True, slots=True)
class MemberList:
    """Some entries of the sender's member map of share ``share_id``, and
    ``addresses``: (device, ``HOST:PORT``) pairs where the sender knows members listen
    (so members that never met, with LAN discovery off, can dial each other)."""

    share_id: bytes
    entries: tuple[MemberEntry, ...]
    addresses: tuple[tuple[bytes, str], ...] = ()


@dataclass(frozen=True, slots=True)
class AwarenessState:
    """One app client's presence (y-protocols awareness): its ``client`` ID, the
    ``clock`` of its state, and the ``state`` as JSON text, ``"null"`` once it left."""

    client: int
    clock: int
    state: str

    @property
    def removed(self) -> bool:
        return self.state == "null"


@dataclass(frozen=True, slots=True)
class Awareness:
    """(Version 3) awareness states of apps connected to doc ``guid`` of share
    ``share_id``: never stored, relayed to the apps of that doc (docs/apps.md)."""

    share_id: bytes
    guid: str
    states: tuple[AwarenessState, ...]


SyncMessage = IndexRequest | Index | SyncStep1 | SyncStep2 | Update
"""The messages the sync engine consumes (delivered as ``MessageReceived``)."""
DocMessage = SyncStep1 | SyncStep2 | Update | DocError
"""The frames about one doc: each carries its share ID and doc guid."""
ControlMessage = Hello | Auth | AuthOk | Ping | Pong | Goodbye
PeerMessage = SyncMessage | DocError | MemberList | Awareness
"""What the daemon queues for an authenticated peer, besides pings."""
Message = ControlMessage | SyncMessage | DocError | MemberList | Awareness
"""Every frame type of the protocol."""
