"""The tray's only connection to the daemon: worker threads that speak the control
API and report to the Qt side through signals.

Two threads, each with its own ControlClient (a subscribed connection serves only
events):

- the poller asks for ``status`` and ``peers`` every ``poll_s`` and runs the
  requests the GUI queued (pause, accept a device, ...), one at a time, in order;
- the follower subscribes to the event stream.

Both reconnect on their own when the daemon is not running or goes away, so the tray
starts before the daemon and survives its restarts. Nothing here blocks the Qt
thread: ``request`` and ``ask`` only queue. A call that may take longer than a poll
can wait (``join`` dials the inviter) runs in a thread of its own with its own client
(``ask`` with ``timeout_s``), so the tray keeps polling meanwhile. ``stop`` ends the
threads (closing the clients wakes their blocked reads) and waits for them.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QObject, Signal

from p2psync.control.client import ControlClient
from p2psync.errors import ControlError, DaemonNotRunningError

log = logging.getLogger(__name__)

POLL_S = 1.0
RECONNECT_S = 1.0
CALL_TIMEOUT_S = 10.0


@dataclass(frozen=True, slots=True)
class Snapshot:
    """One poll: the ``status`` and ``peers`` results and when they were taken."""

    status: dict[str, Any]
    peers: dict[str, Any]
    time: float = field(default_factory=time.time)


class Reply(QObject):
    """The outcome of one ``ask``, for the widget waiting on it (made in the Qt
    thread, so its signals arrive there): ``finished(object)`` with the result or
    ``failed(str)`` with the daemon's sentence. The link's own ``done`` and ``failed``
    are not emitted for it."""

    finished = Signal(object)
    failed = Signal(str)


@dataclass(frozen=True, slots=True)
class Request:
    """A control API call the GUI asked for; ``what`` names it for error messages,
    ``reply`` (if any) is told the outcome instead of the link's signals."""

    what: str
    method: str
    params: dict[str, Any]
    reply: Reply | None = None


_STOP = Request("stop", "", {})


class DaemonLink(QObject):
    """Polls a daemon and follows its events from worker threads.

    Signals (delivered to the Qt thread): ``snapshot(Snapshot)``; ``event_received(dict)``;
    ``up(dict)`` with the ``hello`` result when a daemon answers; ``down(str)`` with
    a sentence when it stops answering (also once at start if none runs);
    ``failed(str, str)`` (what, why) when a request was refused or could not be sent;
    ``done(str, object)`` (what, result) when one succeeded; ``following()`` each time
    the event stream is subscribed (events published before it are not received).
    """

    snapshot = Signal(object)
    event_received = Signal(object)
    up = Signal(object)
    down = Signal(str)
    failed = Signal(str, str)
    done = Signal(str, object)
    following = Signal()

    def __init__(
        self, socket_path: Path, *, poll_s: float = POLL_S, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._socket_path = socket_path
        self._poll_s = poll_s
        self._requests: queue.Queue[Request] = queue.Queue()
        self._stopping = threading.Event()
        self._poll_pending = threading.Event()
        self._follower_client: ControlClient | None = None
        self._apart_clients: set[ControlClient] = set()
        self._apart_threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._poll_loop, name="p2psync-tray-poll", daemon=True),
            threading.Thread(target=self._follow_loop, name="p2psync-tray-events", daemon=True),
        ]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """End both threads and wait for them (at most a call's timeout)."""
        self._stopping.set()
        self._requests.put(_STOP)
        with self._lock:
            if self._follower_client is not None:
                self._follower_client.close()
            for client in self._apart_clients:
                client.close()
        for thread in [*self._threads, *self._apart_threads]:
            if thread.is_alive():
                thread.join(CALL_TIMEOUT_S)

    def request(self, what: str, method: str, **params: Any) -> None:
        """Queue one call; its outcome comes as ``done`` or ``failed``."""
        self._requests.put(Request(what, method, params))

    def ask(
        self,
        what: str,
        method: str,
        *,
        on_done: Callable[[Any], None],
        on_failed: Callable[[str], None],
        timeout_s: float | None = None,
        **params: Any,
    ) -> Reply:
        """One call whose outcome goes to ``on_done`` or ``on_failed`` (in the Qt
        thread; they are connected before the call can end). Keep a reference to the
        returned Reply until then. Without ``timeout_s`` the call is queued with the
        other requests; with it, it runs at once in a thread of its own that waits up
        to ``timeout_s`` for the answer."""
        reply = Reply()
        reply.finished.connect(on_done)
        reply.failed.connect(on_failed)
        request = Request(what, method, params, reply)
        if timeout_s is None:
            self._requests.put(request)
            return reply
        thread = threading.Thread(
            target=self._call_apart, args=(request, timeout_s), name="p2psync-tray-call",
            daemon=True,
        )  # fmt: skip
        with self._lock:
            self._apart_threads = [t for t in self._apart_threads if t.is_alive()]
            self._apart_threads.append(thread)
        thread.start()
        return reply

    def poll_now(self) -> None:
        """Take a snapshot at once rather than at the next tick (a burst of calls
        makes one snapshot)."""
        if not self._poll_pending.is_set():
            self._poll_pending.set()
            self._requests.put(Request("poll", "", {}))

    # -- poller thread -------------------------------------------------------------

    def _poll_loop(self) -> None:
        announced_down = False
        while not self._stopping.is_set():
            try:
                client = ControlClient(self._socket_path, timeout_s=CALL_TIMEOUT_S)
            except (DaemonNotRunningError, OSError) as exc:
                if not announced_down:
                    self.down.emit(str(exc))
                    announced_down = True
                self._refuse_requests_for(RECONNECT_S)
                continue
            with client:
                try:
                    self.up.emit(client.call("hello"))
                    announced_down = False
                    self._serve(client)
                except (ControlError, OSError) as exc:
                    if self._stopping.is_set():
                        return
                    log.info("daemon at %s went away: %s", self._socket_path, exc)
                    self.down.emit("the daemon stopped")
                    announced_down = True

    def _serve(self, client: ControlClient) -> None:
        """Poll and run requests on one connection until it fails or we stop."""
        while not self._stopping.is_set():
            self._poll_pending.clear()
            self.snapshot.emit(Snapshot(client.call("status"), client.call("peers")))
            deadline = time.monotonic() + self._poll_s
            while (left := deadline - time.monotonic()) > 0:
                try:
                    request = self._requests.get(timeout=left)
                except queue.Empty:
                    break
                if request is _STOP:
                    return
                if request.method:
                    self._run(client, request)
                break  # a request changes state: show it at once

    def _run(self, client: ControlClient, request: Request) -> None:
        try:
            result = client.call(request.method, **request.params)
        except ControlError as exc:
            self._fail(request, str(exc))
            if exc.code in {"timeout", "closed"}:
                raise  # the connection is gone: reconnect
            return
        self._succeed(request, result)

    def _succeed(self, request: Request, result: Any) -> None:
        if request.reply is not None:
            request.reply.finished.emit(result)
        else:
            self.done.emit(request.what, result)

    def _fail(self, request: Request, why: str) -> None:
        if request.reply is not None:
            request.reply.failed.emit(why)
        else:
            self.failed.emit(request.what, why)

    def _call_apart(self, request: Request, timeout_s: float) -> None:
        """Run one long call on a client of its own (in its own thread)."""
        try:
            client = ControlClient(self._socket_path, timeout_s=timeout_s)
        except (DaemonNotRunningError, OSError):
            self._fail(request, "no daemon is running")
            return
        with self._lock:
            if self._stopping.is_set():
                client.close()
                return
            self._apart_clients.add(client)
        try:
            result = client.call(request.method, **request.params)
        except ControlError as exc:
            self._fail(request, str(exc))
        except OSError as exc:
            self._fail(request, f"the control connection failed ({exc})")
        else:
            self._succeed(request, result)
        finally:
            with self._lock:
                self._apart_clients.discard(client)
            client.close()

    def _refuse_requests_for(self, seconds: float) -> None:
        """While no daemon runs: wait ``seconds``, failing the requests that come."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                request = self._requests.get(timeout=left)
            except queue.Empty:
                return
            if request is _STOP:
                return
            if request.method:
                self._fail(request, "no daemon is running")

    # -- follower thread -----------------------------------------------------------

    def _follow_loop(self) -> None:
        while not self._stopping.is_set():
            try:
                client = ControlClient(self._socket_path, timeout_s=CALL_TIMEOUT_S)
            except (DaemonNotRunningError, OSError):
                self._stopping.wait(RECONNECT_S)
                continue
            with self._lock:
                if self._stopping.is_set():
                    client.close()
                    return
                self._follower_client = client
            try:
                for event in client.events(on_subscribed=self.following.emit):
                    self.event_received.emit(event)
            except (ControlError, OSError) as exc:
                log.info("event stream of %s ended: %s", self._socket_path, exc)
            finally:
                with self._lock:
                    self._follower_client = None
                client.close()
            self._stopping.wait(RECONNECT_S)
