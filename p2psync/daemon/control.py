"""The control API server: the daemon's Unix socket (mode 0600) for the CLI and GUI.

Each connection sends JSON-line requests (see p2psync/control/wire.py) and gets one reply per
request, or, after ``subscribe``, a stream of events until it disconnects. A bad
request gets an error reply; a broken connection is dropped; neither affects the
daemon. Handlers are plain async functions registered by the composition root.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from typing import Any

import trio

from p2psync.control import wire
from p2psync.control.errorcodes import error_code
from p2psync.daemon.events import EventBus
from p2psync.errors import ControlError, P2PSyncError, StorageError

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[Any]]
MAX_CONTROL_CONNECTIONS = 64
BACKLOG = MAX_CONTROL_CONNECTIONS
"""Connections the socket holds before they are accepted: those of clients that came
while the daemon was starting, answered once it serves."""
RECEIVE_BYTES = 65536


class ControlServer:
    """Serves ``handlers`` (method name → async function of params) on a Unix socket."""

    def __init__(
        self, socket_path: Path, handlers: Mapping[str, Handler], events: EventBus
    ) -> None:
        self.socket_path = socket_path
        self._handlers = handlers
        self._events = events
        self._slots = trio.Semaphore(MAX_CONTROL_CONNECTIONS)
        self._bound: trio.socket.SocketType | None = None

    async def bind(self) -> None:
        """Make the socket file and listen, not yet accepting, so that a socket that
        cannot be made fails the daemon before any share is touched. A client that
        connects while the daemon loads its shares (many seconds for a share of
        100,000 files) waits in the socket's backlog and is answered once ``run``
        serves, instead of being told that no daemon is running. Raises as ``run``
        does; ``close`` undoes it."""
        self._bound = await self._bind()

    def close(self) -> None:
        """Remove the socket ``bind`` made, if ``run`` did not take it over."""
        if self._bound is not None:
            self._bound.close()
            self._bound = None
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Listen until cancelled (on the socket ``bind`` made, or one made now); the
        socket file is removed on the way out."""
        sock = self._bound if self._bound is not None else await self._bind()
        self._bound = None
        listener = trio.SocketListener(sock)
        try:
            async with trio.open_nursery() as nursery:
                task_status.started()
                while True:
                    stream = await _accept(listener)
                    nursery.start_soon(self._serve, stream)
        finally:
            with contextlib.suppress(FileNotFoundError):
                self.socket_path.unlink()
            with trio.CancelScope(shield=True):
                await listener.aclose()

    async def check_free(self) -> None:
        """Raise ControlError if a daemon already answers on the socket (or its
        directory is unsafe); changes nothing."""
        path = self.socket_path
        if path.parent.exists():
            _check_private(path.parent)
        if await _is_live(path):
            raise ControlError(f"another daemon is already running on {path}", "already-running")

    async def _bind(self) -> trio.socket.SocketType:
        """The socket, bound and listening (not yet accepting). Raises StorageError
        naming it when it cannot be made (a home that is read-only or immutable), so
        ``run`` says so in one sentence, and ControlError when a daemon already answers
        on it."""
        path = self.socket_path
        try:
            path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as exc:
            raise _cannot_create(path, exc) from None
        await self.check_free()
        sock = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
        try:
            await _bind_to(sock, path)
            sock.listen(BACKLOG)
        except OSError as exc:
            sock.close()
            raise _cannot_create(path, exc) from None
        return sock

    async def _serve(self, stream: trio.SocketStream) -> None:
        async with stream:
            if not self._slots.value:
                return  # too many clients: this one is closed at once
            async with self._slots:
                await self._converse(stream)

    async def _converse(self, stream: trio.SocketStream) -> None:
        buffer = wire.LineBuffer()
        try:
            while data := await stream.receive_some(RECEIVE_BYTES):
                for line in buffer.feed(data):
                    if not await self._answer(stream, line):
                        return
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return
        except ControlError as exc:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.send_all(_error_reply(None, exc))

    async def _answer(self, stream: trio.SocketStream, line: bytes) -> bool:
        """Reply to one request; False once the connection became an event stream."""
        request_id = method = None
        try:
            request = wire.decode(line)
            request_id = request.get("id")
            method = request.get("method")
            params = request.get("params", {})
            if not isinstance(params, dict):
                raise ControlError("params must be an object", "bad-request")
            if method == "subscribe":
                await self._stream_events(stream, request_id)
                return False
            handler = self._handlers.get(method) if isinstance(method, str) else None
            if handler is None:
                raise ControlError(f"unknown method {method!r}", "unknown-method")
            result = await handler(params)
            if isinstance(result, wire.Streamed):
                for part in result.lines(request_id):
                    await stream.send_all(part)
                return True
            reply = wire.encode({"id": request_id, "result": result})
        except P2PSyncError as exc:
            reply = _error_reply(request_id, exc)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise  # the client went away: ends its connection (``_serve``)
        except Exception as exc:  # a handler's bug must not take the daemon down
            log.exception("control request %r failed", method)
            failure = ControlError(f"the daemon could not answer: {exc}", "internal-error")
            reply = _error_reply(request_id, failure)
        await stream.send_all(reply)
        return True

    async def _stream_events(self, stream: trio.SocketStream, request_id: Any) -> None:
        await stream.send_all(wire.encode({"id": request_id, "result": "subscribed"}))
        async with contextlib.aclosing(self._events.subscribe()) as events:
            async for event in events:  # until the client goes away
                await stream.send_all(wire.encode({"event": event}))


def _error_reply(request_id: Any, exc: P2PSyncError) -> bytes:
    """The error reply for ``exc``: its stable code (control/errorcodes.py) and sentence,
    and the file a ``storage`` error is about."""
    error = {"code": error_code(exc), "message": str(exc)}
    if isinstance(exc, StorageError):
        error["path"] = str(exc.path)
    return wire.encode({"id": request_id, "error": error})


async def _bind_to(sock: trio.socket.SocketType, path: Path) -> None:
    """Bind ``sock`` to ``path`` (mode 0600), replacing a socket file left by a daemon
    that was killed."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    old_umask = os.umask(0o177)  # the socket is created 0600: only its user may connect
    try:
        await sock.bind(os.fspath(path))
    finally:
        os.umask(old_umask)
    path.chmod(0o600)


def _cannot_create(path: Path, exc: OSError) -> StorageError:
    """The error of a control socket that cannot be made at ``path``."""
    return StorageError(path, f"cannot create the control socket: {exc.strerror or exc}")


async def _is_live(path: Path) -> bool:
    """True if a daemon accepts connections on ``path``."""
    probe = trio.socket.socket(trio.socket.AF_UNIX, trio.socket.SOCK_STREAM)
    try:
        await probe.connect(os.fspath(path))
    except OSError:
        return False
    else:
        return True
    finally:
        probe.close()


def _check_private(directory: Path) -> None:
    """Refuse a socket directory that another user owns or that everyone may write to:
    they could replace our socket with theirs and answer the CLI in the daemon's place
    (the ``/tmp/p2psync-<uid>`` directory of long homes has a predictable name).
    Group-writable is left to the user: with per-user groups (umask 002) it is common."""
    info = directory.stat()
    if info.st_uid != os.getuid() or info.st_mode & 0o002:
        raise ControlError(
            f"the control socket directory {directory} must belong to this user and not "
            f"be writable by everyone (it is mode {info.st_mode & 0o777:o}, owner uid "
            f"{info.st_uid})",
            "unsafe-socket-dir",
        )


ACCEPT_RETRY_S = 0.1
"""How long the control socket waits before accepting again when the process is out
of file descriptors (or memory): the connection waits in the backlog meanwhile."""
_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})


async def _accept(listener: trio.SocketListener) -> trio.SocketStream:
    """The next connection of ``listener``. Out of file descriptors, the daemon keeps
    running: it logs that (once until a connection is accepted again) and tries again
    after ``ACCEPT_RETRY_S``, as ``trio.serve_listeners`` does for the peers' port."""
    logged = False
    while True:
        try:
            return await listener.accept()
        except OSError as exc:
            if exc.errno not in _OUT_OF_RESOURCES:
                raise
            if not logged:
                log.error("control socket: cannot accept a connection now: %s; trying "
                          "again every %g s", exc.strerror, ACCEPT_RETRY_S)  # fmt: skip
                logged = True
            await trio.sleep(ACCEPT_RETRY_S)
