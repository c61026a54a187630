"""Frames: a u32 big-endian length, then a msgpack map of that many bytes. Pure, no I/O.

The length is checked against MAX_FRAME_BYTES as soon as its four bytes arrive, before
any of the body is buffered, and bodies are unpacked with explicit limits on every
msgpack container and string, no ext types, and a cap on the number of containers, so
a hostile peer cannot make us hold more than about one frame's worth of memory.
"""

from __future__ import annotations

import struct
from typing import Any

import msgpack

from p2psync.errors import (
    FrameTooLargeError,
    LocalProtocolError,
    MalformedFrameError,
    MessageTooLargeError,
)
from p2psync.protocol.messages import MAX_GUID_BYTES, SHARE_ID_BYTES

MAX_FRAME_BYTES = 16 * 1024 * 1024
"""Largest frame body; the length prefix is not counted."""
LENGTH_PREFIX_BYTES = 4
MAX_BUFFER_BYTES = 2 * MAX_FRAME_BYTES
"""Bytes the decoder holds at most: feed more only after taking out whole frames."""
MAX_STR_BYTES = 4096
"""Longest msgpack string (UTF-8 bytes); the longest legal one is a 1,000-character
message."""
MAX_CONTAINER_ITEMS = 10_000
"""Longest msgpack array; maps are far smaller (MAX_MAP_ITEMS)."""
MAX_MAP_ITEMS = 16
MAX_CONTAINERS = 1100
"""Arrays in one frame: an Index frame holds 1,000 entries of one array each."""
MAX_ARRAY_ITEMS_TOTAL = 20_000
"""Items of all arrays of one frame together."""
_LENGTH = struct.Struct(">I")
_PEEK_BYTES = 512
"""Bytes of a refused frame's body read for ``peek_header``: its first fields."""


def encode_frame(body: dict[str, Any]) -> bytes:
    """The length-prefixed frame holding ``body``.

    Raises MessageTooLargeError (a LocalProtocolError) if the body would be over
    MAX_FRAME_BYTES; the caller must send less at once.
    """
    payload: bytes = msgpack.packb(body, use_bin_type=True)
    if len(payload) > MAX_FRAME_BYTES:
        raise MessageTooLargeError(
            f"a {body.get('t')!r} frame of {len(payload)} bytes is over the limit of "
            f"{MAX_FRAME_BYTES}"
        )
    return _LENGTH.pack(len(payload)) + payload


class _Limits:
    """msgpack hooks counting the containers of one frame body (one instance per body)."""

    def __init__(self) -> None:
        self.arrays = 0
        self.items = 0
        self.maps = 0

    def on_list(self, value: list[Any]) -> list[Any]:
        self.arrays += 1
        self.items += len(value)
        if self.arrays > MAX_CONTAINERS or self.items > MAX_ARRAY_ITEMS_TOTAL:
            raise ValueError("too many arrays or array items in one frame")
        return value

    def on_map(self, pairs: list[tuple[Any, Any]]) -> dict[Any, Any]:
        self.maps += 1
        if self.maps > 1:
            raise ValueError("a map inside the frame body (no message has one)")
        return dict(pairs)


def _no_ext(code: int, data: bytes) -> Any:
    raise ValueError(f"msgpack ext type {code} is not allowed")


def decode_body(payload: bytes | memoryview) -> dict[str, Any]:
    """Unpack one frame body.

    Raises MalformedFrameError unless it is exactly one msgpack map with string keys,
    no nested maps, no ext types, and everything within the limits of this module.
    """
    limits = _Limits()
    try:
        body = msgpack.unpackb(
            payload,
            raw=False,
            strict_map_key=True,
            use_list=True,
            list_hook=limits.on_list,
            object_pairs_hook=limits.on_map,
            ext_hook=_no_ext,
            max_bin_len=MAX_FRAME_BYTES,
            max_str_len=MAX_STR_BYTES,
            max_array_len=MAX_CONTAINER_ITEMS,
            max_map_len=MAX_MAP_ITEMS,
            max_ext_len=0,
        )
    except (
        ValueError,  # includes msgpack's ExtraData, FormatError, StackError, bad UTF-8
        TypeError,
        msgpack.UnpackException,
    ) as exc:
        raise MalformedFrameError(f"frame is not a valid msgpack body: {exc}") from None
    if not isinstance(body, dict):
        raise MalformedFrameError(f"frame body is a {type(body).__name__}, not a map")
    if not all(isinstance(key, str) for key in body):
        raise MalformedFrameError("frame body has a key that is not a string")
    return body


def peek_header(start: bytes) -> tuple[str | None, bytes | None, str | None]:
    """The ``t``, ``s`` and ``d`` fields (message type, share ID, doc guid) at the
    start of a frame body whose first bytes are ``start``, each None unless it is
    there and well formed. For reporting a frame refused before it arrived (our
    encoder writes these fields first); never raises, reads no field it does not need.
    """
    unpacker = msgpack.Unpacker(
        raw=False, max_bin_len=64, max_str_len=MAX_STR_BYTES, max_array_len=0,
        max_map_len=MAX_MAP_ITEMS, max_ext_len=0,
    )  # fmt: skip
    unpacker.feed(start)
    fields: dict[str, Any] = {}
    try:
        for _ in range(unpacker.read_map_header()):
            key = unpacker.unpack()
            if key not in ("t", "s", "d"):
                break  # a large field may follow: what comes after it is not read
            fields[key] = unpacker.unpack()
    except (ValueError, TypeError, msgpack.UnpackException, msgpack.OutOfData):
        pass  # a body cut short or malformed: report what was read before it
    kind, share, guid = fields.get("t"), fields.get("s"), fields.get("d")
    if not isinstance(kind, str) or not kind.isprintable() or len(kind) > 16:
        kind = None
    if not isinstance(share, bytes) or len(share) != SHARE_ID_BYTES:
        share = None
    size = len(guid.encode("utf-8", errors="replace")) if isinstance(guid, str) else 0
    if not isinstance(guid, str) or not guid.isprintable() or not 0 < size <= MAX_GUID_BYTES:
        guid = None
    return kind, share, guid


class FrameDecoder:
    """Collects bytes from the peer and hands out whole frame bodies.

    Bytes are consumed only once a whole frame is there; a partial frame stays
    buffered. An announced length over ``max_frame_bytes`` is refused as soon as the
    four length bytes arrive.
    """

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self.max_frame_bytes = max_frame_bytes
        """The largest frame body accepted now (at most MAX_FRAME_BYTES); the connection
        keeps it small until the peer is authenticated."""
        self._buffer = bytearray()

    def receive_data(self, data: bytes) -> None:
        """Add bytes from the peer.

        Raises FrameTooLargeError as soon as a length prefix announces a frame over the
        limit, and LocalProtocolError if the caller lets more than MAX_BUFFER_BYTES pile
        up without taking frames out (``next_frame``).
        """
        if len(self._buffer) + len(data) > MAX_BUFFER_BYTES:
            raise LocalProtocolError(
                f"receive buffer would exceed {MAX_BUFFER_BYTES} bytes: take frames out "
                "before feeding more"
            )
        self._buffer += data
        self._check_length()

    def _check_length(self) -> None:
        if len(self._buffer) >= LENGTH_PREFIX_BYTES:
            (length,) = _LENGTH.unpack_from(self._buffer)
            if length > self.max_frame_bytes:
                start = bytes(self._buffer[LENGTH_PREFIX_BYTES : LENGTH_PREFIX_BYTES + _PEEK_BYTES])
                kind, share_id, guid = peek_header(start)
                raise FrameTooLargeError(
                    f"the peer announced a frame of {length} bytes, the limit is "
                    f"{self.max_frame_bytes}",
                    kind=kind, share_id=share_id, guid=guid,
                )  # fmt: skip

    def next_frame(self) -> dict[str, Any] | None:
        """The next whole frame's body, or None until more bytes arrive.

        The frame's bytes are consumed even when its body is rejected. Raises
        MalformedFrameError for a bad body, FrameTooLargeError for a frame announcing
        too large a length (before its body arrives).
        """
        if len(self._buffer) < LENGTH_PREFIX_BYTES:
            return None
        self._check_length()
        (length,) = _LENGTH.unpack_from(self._buffer)
        end = LENGTH_PREFIX_BYTES + length
        if len(self._buffer) < end:
            return None
        try:
            with memoryview(self._buffer) as view, view[LENGTH_PREFIX_BYTES:end] as payload:
                return decode_body(payload)
        finally:
            del self._buffer[:end]

    @property
    def buffered(self) -> int:
        """Bytes received but not yet handed out as frames."""
        return len(self._buffer)

    @property
    def announced(self) -> int:
        """The length the next frame announced (0 until its four length bytes arrived)."""
        if len(self._buffer) < LENGTH_PREFIX_BYTES:
            return 0
        length: int = _LENGTH.unpack_from(self._buffer)[0]
        return length
