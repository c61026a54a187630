"""Frames: length prefix checked before the body, msgpack unpacked within limits."""

from __future__ import annotations

import struct
from typing import Any

import msgpack
import pytest

from p2psync.errors import (
    FrameTooLargeError,
    LocalProtocolError,
    MalformedFrameError,
    MessageTooLargeError,
)
from p2psync.protocol import frames
from p2psync.protocol.frames import (
    MAX_BUFFER_BYTES,
    MAX_FRAME_BYTES,
    FrameDecoder,
    decode_body,
    encode_frame,
    peek_header,
)


def raw_frame(payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + payload


def test_encode_then_decode_in_any_chunking() -> None:
    bodies: list[dict[str, Any]] = [{"t": "ping"}, {"t": "x", "u": [b"a" * 300, b""]}, {"t": ""}]
    data = b"".join(encode_frame(body) for body in bodies)
    for step in (1, 2, 3, 5, 64, len(data)):
        decoder = FrameDecoder()
        out = []
        for i in range(0, len(data), step):
            decoder.receive_data(data[i : i + step])
            while (body := decoder.next_frame()) is not None:
                out.append(body)
        assert out == bodies
        assert decoder.buffered == 0


def test_partial_frame_is_not_consumed() -> None:
    data = encode_frame({"t": "ping"})
    decoder = FrameDecoder()
    decoder.receive_data(data[:-1])
    assert decoder.next_frame() is None
    assert decoder.buffered == len(data) - 1
    decoder.receive_data(data[-1:])
    assert decoder.next_frame() == {"t": "ping"}


def test_oversized_prefix_is_refused_before_the_body() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(struct.pack(">I", MAX_FRAME_BYTES)[:3])  # not yet a whole prefix
    with pytest.raises(FrameTooLargeError) as info:
        decoder.receive_data(struct.pack(">I", MAX_FRAME_BYTES + 1)[3:])
    assert info.value.code == "frame-too-large"


def test_oversized_second_frame_is_refused_before_its_body() -> None:
    decoder = FrameDecoder(max_frame_bytes=100)
    decoder.receive_data(encode_frame({"t": "ping"}) + struct.pack(">I", 101))
    assert decoder.next_frame() == {"t": "ping"}
    with pytest.raises(FrameTooLargeError, match="101 bytes"):
        decoder.next_frame()


def test_exact_limit_is_allowed() -> None:
    decoder = FrameDecoder(max_frame_bytes=10)
    payload = msgpack.packb({"t": "abcdef"})
    assert len(payload) == 10
    decoder.receive_data(raw_frame(payload))
    assert decoder.next_frame() == {"t": "abcdef"}


def test_receive_buffer_is_bounded() -> None:
    decoder = FrameDecoder()
    ping = encode_frame({"t": "ping"})
    decoder.receive_data(ping * ((MAX_BUFFER_BYTES - len(ping)) // len(ping)))
    with pytest.raises(LocalProtocolError, match="take frames out"):
        decoder.receive_data(ping * 2)


def test_frames_over_the_limit_are_not_sent() -> None:
    with pytest.raises(MessageTooLargeError):
        encode_frame({"t": "s2", "u": b"x" * MAX_FRAME_BYTES})


MALFORMED_BODIES = {
    "not msgpack": b"\xc1",
    "truncated msgpack": msgpack.packb({"t": "ping"})[:-1],
    "trailing bytes": msgpack.packb({"t": "ping"}) + b"\x00",
    "not a map": msgpack.packb([1, 2]),
    "int key": msgpack.packb({1: 2}, strict_types=False),
    "bytes key": msgpack.packb({b"t": "ping"}, use_bin_type=True),
    "nested map": msgpack.packb({"t": "x", "m": {}}),
    "ext type": msgpack.packb({"t": msgpack.ExtType(5, b"")}),
    "timestamp": b"\x81\xa1t" + b"\xd6\xff" + b"\x00" * 4,
    "long string": msgpack.packb({"t": "x" * (frames.MAX_STR_BYTES + 1)}),
    "long array": msgpack.packb({"t": [0] * (frames.MAX_CONTAINER_ITEMS + 1)}),
    "big map": msgpack.packb({str(i): i for i in range(frames.MAX_MAP_ITEMS + 1)}),
    "many arrays": msgpack.packb({"t": [[]] * (frames.MAX_CONTAINERS + 1)}),
    "many items": msgpack.packb({"a": [0] * 10_000, "b": [0] * 10_000, "c": [0]}),
    "deep nesting": b"\x81\xa1t" + b"\x91" * 100_000 + b"\xc0",
    "bad utf-8": b"\x81\xa1t\xa1\xff",
}


@pytest.mark.parametrize("name", sorted(MALFORMED_BODIES))
def test_malformed_bodies_are_typed_errors(name: str) -> None:
    with pytest.raises(MalformedFrameError) as info:
        decode_body(MALFORMED_BODIES[name])
    assert info.value.code == "bad-frame"


def test_a_rejected_frame_is_consumed() -> None:
    decoder = FrameDecoder()
    decoder.receive_data(raw_frame(b"\xc1") + encode_frame({"t": "ping"}))
    with pytest.raises(MalformedFrameError):
        decoder.next_frame()
    assert decoder.next_frame() == {"t": "ping"}


def test_a_refused_frame_names_the_share_and_doc_its_first_bytes_show() -> None:
    share = b"s" * 16
    body = msgpack.packb(
        {"t": "s2", "s": share, "d": "big.txt", "u": b"x" * 100}, use_bin_type=True
    )
    decoder = FrameDecoder(max_frame_bytes=64)
    with pytest.raises(FrameTooLargeError) as refused:
        decoder.receive_data(struct.pack(">I", 20_000_000) + body[:200])
    assert (refused.value.kind, refused.value.share_id, refused.value.guid) == (
        "s2",
        share,
        "big.txt",
    )


@pytest.mark.parametrize(
    "start",
    [b"", b"\x83", b"\xc1\xc1", b"\x81\xa1u\xc6\x01\x00\x00\x00", b"\x82\xa1s\xa3abc\xa1d\x01"],
)
def test_a_refused_frame_without_readable_fields_names_nothing(start: bytes) -> None:
    assert peek_header(start) == (None, None, None)
