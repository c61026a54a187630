"""The control API's framing: one JSON object per line, versioned and size-limited.

Requests are ``{"v": 1, "id": N, "method": NAME, "params": {...}}``; replies are
``{"v": 1, "id": N, "result": ...}`` or ``{"v": 1, "id": N, "error": {"code": C,
"message": M}}``; a subscription streams ``{"v": 1, "event": {...}}`` lines. A reply
too large for one line (``doc.export`` with ``stream``) comes as ``{"v": 1, "id": N,
"part": BASE64}`` lines of at most PART_BYTES bytes each, then its result. The spec is
docs/control-api.md. Shared by the daemon's server and the blocking client.
"""

from __future__ import annotations

import json

from p2psync.errors import ControlError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (control/home.py)
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

CONTROL_API_VERSION = 1
MAX_MESSAGE_BYTES = 1024 * 1024
PART_BYTES = 512 * 1024
"""Bytes in one ``part`` line of a streamed reply (base64 keeps it under the limit)."""


class Streamed:
    """What a handler returns for a reply sent in parts: ``data``, then ``result``."""

    __slots__ = ("data", "result")

    def __init__(self, data: bytes, result: dict[str, Any]) -> None:
        self.data = data
        self.result = result

    def lines(self, request_id: Any) -> Iterator[bytes]:
        """The reply's lines: one ``part`` per PART_BYTES of ``data``, then the result."""
        import base64  # noqa: PLC0415 - only the daemon sends parts

        for start in range(0, len(self.data), PART_BYTES):
            part = base64.b64encode(self.data[start : start + PART_BYTES]).decode()
            yield encode({"id": request_id, "part": part})
        yield encode({"id": request_id, "result": self.result})


def encode(message: dict[str, Any]) -> bytes:
    """One message as a line of JSON (with the API version added)."""
    line = json.dumps({"v": CONTROL_API_VERSION, **message}, separators=(",", ":"))
    data = line.encode() + b"\n"
    if len(data) > MAX_MESSAGE_BYTES:
        raise ControlError("message too large for the control API")
    return data


def decode(line: bytes) -> dict[str, Any]:
    """Parse one line; raises ControlError if it is not a message of our version."""
    if len(line) > MAX_MESSAGE_BYTES:
        raise ControlError("control message too large")
    try:
        message = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ControlError(f"control message is not JSON: {exc}") from None
    if not isinstance(message, dict):
        raise ControlError("control message is not a JSON object")
    if message.get("v") != CONTROL_API_VERSION:
        raise ControlError(f"control API version {message.get('v')!r} is not supported")
    return message


class LineBuffer:
    """Splits a byte stream into lines, refusing lines over MAX_MESSAGE_BYTES."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """Add received bytes; return the complete lines. Raises ControlError if a line
        grows past the limit."""
        self._buffer += data
        lines: list[bytes] = []
        while (end := self._buffer.find(b"\n")) >= 0:
            lines.append(bytes(self._buffer[:end]))
            del self._buffer[: end + 1]
        if len(self._buffer) > MAX_MESSAGE_BYTES:
            raise ControlError("control message too large")
        return lines
