"""Frames: a u32 big-endian length, then a msgpack map. Pure, no I/O.

The length is checked against MAX_FRAME_BYTES before any of the body is buffered,
and msgpack is unpacked with explicit limits, so a hostile peer cannot make us
allocate more than one frame's worth of memory.
"""

from __future__ import annotations

import struct
from typing import Any

import msgpack

from p2psync.errors import RemoteProtocolError

MAX_FRAME_BYTES = 16 * 1024 * 1024
MAX_CONTAINER_ITEMS = 100_000
_LENGTH = struct.Struct(">I")


def encode_frame(body: dict[str, Any]) -> bytes:
    """One frame holding ``body``. Raises ValueError if it exceeds MAX_FRAME_BYTES."""
    payload: bytes = msgpack.packb(body, use_bin_type=True)
    if len(payload) > MAX_FRAME_BYTES:
        raise ValueError(f"frame of {len(payload)} bytes exceeds {MAX_FRAME_BYTES}")
    return _LENGTH.pack(len(payload)) + payload


def decode_body(payload: bytes) -> dict[str, Any]:
    """Unpack one frame body; raises RemoteProtocolError unless it is a msgpack map
    with string keys within the limits."""
    try:
        body = msgpack.unpackb(
            payload,
            raw=False,
            strict_map_key=True,
            max_bin_len=MAX_FRAME_BYTES,
            max_str_len=MAX_FRAME_BYTES,
            max_array_len=MAX_CONTAINER_ITEMS,
            max_map_len=MAX_CONTAINER_ITEMS,
            max_ext_len=0,
        )
    except (
        ValueError,
        TypeError,
        msgpack.ExtraData,
        msgpack.FormatError,
        msgpack.StackError,
    ) as exc:
        raise RemoteProtocolError(f"frame is not valid msgpack: {exc}", "bad-frame") from None
    if not isinstance(body, dict):
        raise RemoteProtocolError("frame body is not a map", "bad-frame")
    return body


class FrameDecoder:
    """Collects bytes and hands out whole frame bodies; consumes only whole frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the peer. Raises RemoteProtocolError as soon as a length
        prefix announces a frame over the limit."""
        self._buffer += data
        self._check_length()

    def _check_length(self) -> None:
        if len(self._buffer) >= _LENGTH.size:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if length > MAX_FRAME_BYTES:
                raise RemoteProtocolError(
                    f"frame of {length} bytes announced, the limit is {MAX_FRAME_BYTES}",
                    "too-large",
                )

    def next_frame(self) -> dict[str, Any] | None:
        """The next whole frame's body, or None until more bytes arrive."""
        if len(self._buffer) < _LENGTH.size:
            return None
        (length,) = _LENGTH.unpack_from(self._buffer)
        end = _LENGTH.size + length
        if len(self._buffer) < end:
            return None
        payload = bytes(self._buffer[_LENGTH.size : end])
        del self._buffer[:end]
        self._check_length()
        return decode_body(payload)

    @property
    def buffered(self) -> int:
        """Bytes received but not yet handed out."""
        return len(self._buffer)
