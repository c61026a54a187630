"""The control API's framing: one JSON object per line, versioned and size-limited.

Requests are ``{"v": 1, "id": N, "method": NAME, "params": {...}}``; replies are
``{"v": 1, "id": N, "result": ...}`` or ``{"v": 1, "id": N, "error": {"code": C,
"message": M}}``; a subscription streams ``{"v": 1, "event": {...}}`` lines. The spec is
docs/control-api.md. Shared by the daemon's server and the blocking client.
"""

from __future__ import annotations

import json
from typing import Any

from p2psync.errors import ControlError

CONTROL_API_VERSION = 1
MAX_MESSAGE_BYTES = 1024 * 1024


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
