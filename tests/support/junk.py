"""Generated malformed frames and mutated Yjs updates, for fuzzing a live daemon.

Each generator is seeded (``random.Random``) so a failure can be replayed. Frames are
kept only if the product's own parsers reject them (``is_malformed``): a live test can
then demand that none of them changes anything.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Iterator, Sequence
from typing import Any

import msgpack

from p2psync.errors import MalformedYjsError, RemoteProtocolError
from p2psync.protocol import wire
from p2psync.protocol.frames import MAX_FRAME_BYTES, FrameDecoder
from p2psync.protocol.messages import (
    DocError,
    Index,
    IndexEntry,
    IndexRequest,
    Message,
    SyncStep1,
    SyncStep2,
    Update,
)
from p2psync.protocol.yjs import DocVersion
from p2psync.protocol.yjs import _varuint as varuint
from p2psync.protocol.yjs_update import scan_update
from tests.support.hostile import frame_of

KEYS = ["t", "s", "d", "i", "e", "u", "sv", "max", "more", "since", "code", "message"]
TYPES = [*wire.TYPE_NAMES.values(), "nope", "", "x" * 300]


def is_malformed(frame: bytes, share: bytes) -> bool:
    """True if the daemon must refuse ``frame`` (sent after authentication): the frame
    or its message does not decode, or it carries an update of ``share`` that is not a
    safe v1 one. (A message about another share is ignored, not refused.)"""
    decoder = FrameDecoder()
    try:
        decoder.receive_data(frame)
        body = decoder.next_frame()
        if body is None:
            return True  # cut short: the stream ends inside it
        message = wire.decode(body)
    except RemoteProtocolError:
        return True
    if getattr(message, "share_id", share) != share:
        return False
    updates = message.updates if isinstance(message, Update) else []
    updates = [message.update] if isinstance(message, SyncStep2) else updates
    for update in updates:
        try:
            scan_update(update)
        except MalformedYjsError:
            return True
    return False


def mutate(rng: random.Random, data: bytes, donors: Sequence[bytes] = ()) -> bytes:
    """One random mutation: bit flips, a byte set, truncation, insertion, a splice with
    a donor, or a varint blown up to a huge value."""
    out = bytearray(data)
    kind = rng.randrange(6)
    if kind == 0 and out:
        for _ in range(rng.randint(1, 3)):
            out[rng.randrange(len(out))] ^= 1 << rng.randrange(8)
    elif kind == 1 and out:
        out[rng.randrange(len(out))] = rng.randrange(256)
    elif kind == 2 and out:
        del out[rng.randrange(len(out)) :]
    elif kind == 3 and donors:
        donor = rng.choice(donors)
        out[rng.randrange(len(out) + 1) :] = donor[rng.randrange(len(donor) + 1) :]
    elif kind == 4 and out:
        at = rng.randrange(len(out))
        huge = rng.choice([2**31, 2**32 - 1, 2**32, 2**53 - 1, 2**63, rng.getrandbits(45)])
        out[at : at + 1] = varuint(huge)
    else:
        at = rng.randrange(len(out) + 1)
        out[at:at] = rng.randbytes(rng.randint(1, 4))
    return bytes(out)


def valid_messages(share: bytes, guids: Sequence[str], updates: Sequence[bytes]) -> list[Message]:
    """Well-formed sync messages about ``share``, to be mutated."""
    version = DocVersion({1: 5}, bytes(16))
    messages: list[Message] = [
        IndexRequest(share, b"", 0),
        Index(share, b"\x01" * 8, 3, (IndexEntry(guids[0], 3, version),)),
        DocError(share, guids[0], "bad-update", "no"),
    ]
    for guid in guids:
        messages.append(SyncStep1(share, guid, b"\x01\x01\x05"))
        for update in updates[:20]:
            messages.append(SyncStep2(share, guid, update))
            messages.append(Update(share, guid, [update]))
    return messages


def _garbage_body(rng: random.Random) -> bytes:
    size = rng.randrange(0, 300)
    return struct.pack(">I", size) + rng.randbytes(size)


def _lying_length(rng: random.Random) -> bytes:
    return struct.pack(">I", rng.randint(MAX_FRAME_BYTES + 1, 2**32 - 1)) + rng.randbytes(8)


def _odd_msgpack(rng: random.Random) -> bytes:
    bodies: list[Any] = [
        [1, 2, 3], "text", 7, None, {"t": {"nested": 1}}, {1: "int key"},
        {"t": "upd", "u": [b"x"] * 20_001},
    ]  # fmt: skip
    payload: bytes = msgpack.packb(rng.choice(bodies), use_bin_type=True)
    if rng.random() < 0.3:
        payload = b"\xc7\x01\x05x"  # an ext type
    if rng.random() < 0.2:
        payload = b"\xa2\xff\xfe"  # a string that is not UTF-8
    return struct.pack(">I", len(payload)) + payload


def _message_shaped(rng: random.Random, share: bytes) -> bytes:
    leaves: list[Any] = [None, True, -1, 2**64 - 1, 1.5, "s", b"", share, b"\x00" * 16,
                         rng.randbytes(rng.randrange(40)), "\x00", "x" * 200, [1, [2]]]  # fmt: skip
    body = {key: rng.choice(leaves) for key in rng.sample(KEYS, rng.randrange(1, 7))}
    body["t"] = rng.choice(TYPES)
    payload: bytes = msgpack.packb(body, use_bin_type=True)
    return struct.pack(">I", len(payload)) + payload


def malformed_frames(
    rng: random.Random,
    share: bytes,
    guids: Sequence[str],
    updates: Sequence[bytes],
    count: int,
    *,
    over_the_limit: bool = True,
) -> Iterator[bytes]:
    """``count`` frames the daemon must refuse, of every kind above (without lengths
    over the frame limit if not ``over_the_limit``: one of those backs the sender off,
    so the frames after it would never reach the parser)."""
    frames = [frame_of(m) for m in valid_messages(share, guids, updates)]
    made = 0
    while made < count:
        kind = rng.randrange(10)
        if kind == 0:
            frame = _garbage_body(rng)
        elif kind == 1:
            if not over_the_limit:
                continue
            frame = _lying_length(rng)
        elif kind == 2:
            frame = _odd_msgpack(rng)
        elif kind in (3, 4):
            frame = _message_shaped(rng, share)
        else:
            frame = mutate(rng, rng.choice(frames), frames)
            if len(frame) < 4 or struct.unpack(">I", frame[:4])[0] != len(frame) - 4:
                continue  # a frame cut short would only wait for its end: slow-peer tests
        if is_malformed(frame, share):
            made += 1
            yield frame
