"""A blocking client of the control API, for the CLI and the tray app."""

from __future__ import annotations

import contextlib
import itertools
import os
import socket

from p2psync.control import wire
from p2psync.control.errorcodes import reply_error
from p2psync.errors import ControlError, DaemonNotRunningError

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (control/home.py)
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from pathlib import Path
    from typing import Any

RECEIVE_BYTES = 65536
NO_ANSWER = "the daemon did not answer in time (busy, or still loading its shares after a start)"


class ControlClient:
    """One connection to a daemon's control socket.

    Raises DaemonNotRunningError if nothing listens there; ControlError when the
    daemon answers a request with an error (its code and sentence are kept), of the
    class of that code in control/errorcodes.py too (a UsageError for ``usage``...).
    """

    def __init__(self, socket_path: Path, *, timeout_s: float | None = 30.0) -> None:
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.settimeout(timeout_s)
        try:
            self._sock.connect(os.fspath(socket_path))
        except (FileNotFoundError, ConnectionRefusedError) as exc:
            self._sock.close()
            raise DaemonNotRunningError(
                f"no daemon is running (no answer on {socket_path})", "no-daemon"
            ) from exc
        except TimeoutError:  # a daemon still starting, with a full backlog of clients
            self._sock.close()
            raise ControlError(NO_ANSWER, "timeout") from None
        self._buffer = wire.LineBuffer()
        self._lines: list[bytes] = []
        self._ids = itertools.count(1)

    def close(self) -> None:
        """Close the connection; an ``events`` loop in another thread then ends."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)  # wakes a recv blocked in another thread
        self._sock.close()

    def __enter__(self) -> ControlClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def call(self, method: str, **params: Any) -> Any:
        """Send one request and return its result."""
        return self.call_streamed(method, None, **params)

    def call_streamed(
        self, method: str, sink: Callable[[bytes], None] | None, **params: Any
    ) -> Any:
        """Send one request whose reply may come in parts (``doc.export`` with
        ``stream``): each part's bytes go to ``sink`` as they arrive; returns the
        result. Raises ControlError for a part that is not base64 or unasked for."""
        request_id = next(self._ids)
        self._sock.sendall(wire.encode({"id": request_id, "method": method, "params": params}))
        reply = self._next_message()
        while "part" in reply:
            if sink is None:
                raise ControlError("the daemon sent a reply in parts unasked", "bad-reply")
            import base64  # noqa: PLC0415 - only for a reply in parts

            try:
                part = base64.b64decode(str(reply["part"]), validate=True)
            except ValueError:
                raise ControlError("a part of the reply is not base64", "bad-reply") from None
            sink(part)
            reply = self._next_message()
        if "error" in reply:
            error = reply["error"]
            raise reply_error(
                str(error.get("code", "error")), str(error.get("message")), error.get("path")
            )
        return reply.get("result")

    def events(self, on_subscribed: Callable[[], None] | None = None) -> Iterator[dict[str, Any]]:
        """Subscribe and yield events until the daemon goes away or the connection is
        closed (``close`` from another thread ends the iteration). ``on_subscribed`` is
        called once the daemon has confirmed: no event published after it is missed."""
        self.call("subscribe")
        if on_subscribed is not None:
            on_subscribed()
        self._sock.settimeout(None)
        while True:
            try:
                message = self._next_message()
            except (ControlError, OSError):
                return
            event = message.get("event")
            if isinstance(event, dict):
                yield event

    def _next_message(self) -> dict[str, Any]:
        while not self._lines:
            try:
                data = self._sock.recv(RECEIVE_BYTES)
            except TimeoutError:
                raise ControlError(NO_ANSWER, "timeout") from None
            if not data:
                raise ControlError("the daemon closed the control connection", "closed")
            self._lines.extend(self._buffer.feed(data))
        return wire.decode(self._lines.pop(0))
