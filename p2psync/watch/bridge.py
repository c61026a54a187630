"""watchdog -> Trio: coalesced sets of changed file paths.

This is the only module of p2psync that touches watchdog. watchdog runs its own
threads (an inotify reader, one emitter per watched directory and the observer that
calls our handler). The handler never blocks them and never waits for Trio: it adds
the event's paths to a lock-protected set (:class:`_Inbox`) and, only when that set
was empty of news, asks Trio to wake the consumer with
``TrioToken.run_sync_soon``. So the number of pending Trio callbacks is at most
one, and memory is bounded by the number of distinct paths, never by the number of
events: 1,000 quick appends to one log are one dirty path.

On the Trio side the consumer's task moves those paths into a
:class:`~p2psync.watch.coalesce.DirtySet`, drops what is no longer watched or what
the filter rejects, and returns the batch when it is ready.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import trio
from watchdog.events import (
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch

from p2psync.watch.coalesce import DirtySet, changed_paths, is_watched

log = logging.getLogger(__name__)

#: How long cancellation waits for the observer's threads to stop and be joined.
STOP_TIMEOUT_S = 5.0
#: Default bound on how long ``next_changes`` may hold a batch back waiting for quiet.
MAX_DEBOUNCE_DELAY_S = 2.0

# Asking watchdog for these event classes only also narrows the inotify mask: no
# open/close events, which reading a log would otherwise generate.
_EVENT_CLASSES: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileDeletedEvent,
]


class _Inbox:
    """Paths handed over by watchdog's thread, waiting for the Trio side; thread-safe.

    ``put`` runs on watchdog's observer thread and only holds a lock for a set update;
    everything else runs on the Trio thread. While closed (before ``open``, after
    ``close``) events are dropped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._paths: set[Path] = set()
        self._token: trio.lowlevel.TrioToken | None = None
        self._wake: Callable[[], None] | None = None
        self._wake_pending = False

    def open(self, token: trio.lowlevel.TrioToken, wake: Callable[[], None]) -> None:
        """Accept events; ``wake`` is called on the Trio thread when news arrives."""
        with self._lock:
            self._token = token
            self._wake = wake
            self._wake_pending = False

    def close(self) -> None:
        """Drop every later event (a thread that outlived its join cannot reach Trio)."""
        with self._lock:
            self._token = None
            self._wake = None

    def put(self, paths: Iterable[Path]) -> None:
        """Add changed paths; called on watchdog's thread, never blocks on Trio."""
        with self._lock:
            token = self._token
            if token is None:
                return
            self._paths.update(paths)
            if self._wake_pending:
                return
            self._wake_pending = True
        # RunFinishedError: the Trio run is over and nobody is left to tell.
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(self._on_wake)

    def drain(self) -> set[Path]:
        """Take every path handed over so far (Trio thread)."""
        with self._lock:
            paths, self._paths = self._paths, set()
        return paths

    def _on_wake(self) -> None:
        # Runs on the Trio thread as a run_sync_soon callback: it must not raise.
        with self._lock:
            self._wake_pending = False
            wake = self._wake
        if wake is not None:
            wake()


class _Handler(FileSystemEventHandler):
    """watchdog's side of the bridge: turns each event into paths for the inbox."""

    def __init__(self, inbox: _Inbox) -> None:
        super().__init__()
        self._inbox = inbox

    def on_any_event(self, event: FileSystemEvent) -> None:
        # An exception here would kill watchdog's observer thread and silently end
        # all watching, so it is logged instead.
        try:
            paths = changed_paths(
                event.event_type, event.src_path, event.dest_path, is_directory=event.is_directory
            )
            if paths:
                self._inbox.put(paths)
        except Exception:
            log.exception("could not hand over watchdog event %r", event)


class DirWatcher:
    """Watches directories and reports the file paths that changed in them, coalesced.

    A Trio service: start it with ``await nursery.start(watcher.run)``. Directories
    can be added and removed at any time (``add_dir``/``remove_dir``); only files
    directly in a watched directory are reported, or anywhere below it if
    ``recursive``. ``filter``, if given, is called on the Trio thread with each
    changed path; paths for which it returns false are never reported.

    A change is a file created, modified (content, not attributes), deleted, or moved
    (both ends; an atomic replace reports its target). One consumer calls
    ``next_changes`` in a loop. watchdog can miss changes (inotify queue overflow, a
    directory moved in wholesale): a periodic rescan by the caller covers those.
    """

    def __init__(
        self,
        dirs: Sequence[Path] = (),
        *,
        filter: Callable[[Path], bool] | None = None,
        recursive: bool = False,
    ) -> None:
        self._recursive = recursive
        self._filter = filter
        self._watches: dict[Path, ObservedWatch | None] = {path.absolute(): None for path in dirs}
        self._observer: BaseObserver | None = None
        self._running = False
        self._inbox = _Inbox()
        self._handler = _Handler(self._inbox)
        self._dirty = DirtySet()
        self._wakeup = trio.Event()

    @property
    def dirs(self) -> frozenset[Path]:
        """The directories currently watched (or to be watched once ``run`` starts)."""
        return frozenset(self._watches)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Watch until cancelled.

        Reports started only once watchdog's threads run and every directory given so
        far is being watched, so a change made after ``nursery.start`` returns is
        seen. Raises ``OSError`` if a directory cannot be watched (missing, or the
        inotify watch limit reached); the threads are stopped first.

        On cancellation (or any error), watchdog's threads are stopped and joined in
        a worker thread, shielded from the cancellation and bounded by
        ``STOP_TIMEOUT_S``, so the Trio loop is never blocked and no thread is left
        running; only if they fail to stop within that time is that logged and
        they are left behind (they are daemon threads). Paths already dirty stay
        available to ``next_changes``.
        """
        if self._running:
            raise RuntimeError("DirWatcher.run is already running")
        self._running = True
        try:
            # Constructing the observer opens an inotify descriptor and starts its
            # reader thread: from here on, _stop_observer must run.
            observer = Observer()
            try:
                self._inbox.open(trio.lowlevel.current_trio_token(), self._wake)
                initial = list(self._watches)
                watches = await trio.to_thread.run_sync(self._start_observer, observer, initial)
                self._adopt(observer, watches)
                log.info("watching %d directories for changes", len(self._watches))
                task_status.started()
                await trio.sleep_forever()
            finally:
                self._observer = None
                self._inbox.close()
                self._watches = dict.fromkeys(self._watches)
                await _stop_observer(observer)
        finally:
            self._running = False

    def add_dir(self, path: Path) -> None:
        """Start reporting changes in ``path`` (no-op if already watched).

        While running, the watch is in place when this returns; this makes a few
        short system calls on the calling thread (for a recursive watch, one per
        subdirectory). Raises ``OSError`` if ``path`` cannot be watched; then it is
        not added. Before ``run`` it only records the directory.
        """
        path = path.absolute()
        if path in self._watches:
            return
        if self._observer is None:
            self._watches[path] = None
            return
        self._watches[path] = self._schedule(self._observer, path)
        log.debug("watching %s for changes", path)

    def remove_dir(self, path: Path) -> None:
        """Stop reporting changes in ``path`` (no-op if not watched).

        Changes in it that are not yet taken are forgotten, so nothing from it is
        reported after this returns. While running, this waits briefly for the
        directory's watchdog emitter thread to end.
        """
        path = path.absolute()
        if path not in self._watches:
            return
        watch = self._watches.pop(path)
        if watch is not None and self._observer is not None:
            with contextlib.suppress(KeyError):  # watchdog already dropped it
                self._observer.unschedule(watch)
        # Paths still in the inbox are checked against the watched set when absorbed.
        self._dirty.retain(self._is_watched)
        log.debug("no longer watching %s", path)

    async def next_changes(
        self, *, min_quiet_s: float = 0.0, max_delay_s: float = MAX_DEBOUNCE_DELAY_S
    ) -> set[Path]:
        """Wait for changes and return every path that changed since the last call.

        With ``min_quiet_s`` 0 this returns as soon as anything is dirty. Otherwise it
        waits until no change arrived for ``min_quiet_s`` (debounce, for plain-file
        saves), but holds a batch back at most ``max_delay_s`` after its first change.
        Changes that happen while nobody waits accumulate (one entry per path).

        Cancellation loses nothing: the paths stay dirty for the next call. Exceptions
        from ``filter`` propagate. Meant for one consumer at a time; it keeps waiting
        if ``run`` is not (or no longer) running.
        """
        if min_quiet_s < 0 or max_delay_s < 0:
            raise ValueError("min_quiet_s and max_delay_s must not be negative")
        await trio.lowlevel.checkpoint()
        while True:
            # A fresh event before draining: a wake for anything handed over after
            # the drain sets this event, so no change is waited past.
            wakeup = self._wakeup = trio.Event()
            self._absorb()
            wait_s = self._dirty.wait_s(
                trio.current_time(), min_quiet_s=min_quiet_s, max_delay_s=max_delay_s
            )
            if wait_s == 0.0:
                return self._dirty.take()
            if wait_s is None:
                await wakeup.wait()
            else:
                with trio.move_on_after(wait_s):
                    await wakeup.wait()

    # -- internals -----------------------------------------------------------------

    def _wake(self) -> None:
        self._wakeup.set()

    def _absorb(self) -> None:
        """Move what watchdog handed over into the dirty set, keeping what is wanted."""
        paths = self._inbox.drain()
        if not paths:
            return
        wanted = {
            path
            for path in paths
            if self._is_watched(path) and (self._filter is None or self._filter(path))
        }
        self._dirty.add(wanted, trio.current_time())

    def _is_watched(self, path: Path) -> bool:
        return is_watched(path, self._watches.keys(), recursive=self._recursive)

    def _schedule(self, observer: BaseObserver, path: Path) -> ObservedWatch:
        # watchdog would silently watch a file (its parent, filtered) or fail later
        # with a bare inotify error: say which directory.
        if not path.is_dir():
            raise FileNotFoundError(errno.ENOENT, "cannot watch: not a directory", str(path))
        return observer.schedule(
            self._handler, str(path), recursive=self._recursive, event_filter=_EVENT_CLASSES
        )

    def _start_observer(
        self, observer: BaseObserver, dirs: list[Path]
    ) -> dict[Path, ObservedWatch]:
        """Start watchdog's observer and watch ``dirs`` (in a worker thread)."""
        observer.start()
        return {path: self._schedule(observer, path) for path in dirs}

    def _adopt(self, observer: BaseObserver, watches: dict[Path, ObservedWatch]) -> None:
        """Take over the started observer, catching up with add/remove calls made while
        it was starting."""
        self._observer = observer
        for path, watch in watches.items():
            if path in self._watches:
                self._watches[path] = watch
            else:
                observer.unschedule(watch)
        for path, pending in list(self._watches.items()):
            if pending is None:
                self._watches[path] = self._schedule(observer, path)


async def _stop_observer(observer: BaseObserver) -> None:
    """Stop and join watchdog's threads without blocking the loop, even when cancelled."""
    with trio.move_on_after(STOP_TIMEOUT_S, shield=True) as scope:
        await trio.to_thread.run_sync(_stop_and_join, observer, abandon_on_cancel=True)
    if scope.cancelled_caught:
        log.error(
            "watchdog observer did not stop within %.1f s; its threads are left behind",
            STOP_TIMEOUT_S,
        )


def _stop_and_join(observer: BaseObserver) -> None:
    # stop() unschedules every watch (joining the emitter threads) and stops the
    # inotify reader; join() then waits for the observer thread itself.
    observer.stop()
    with contextlib.suppress(RuntimeError):  # never started: nothing to join
        observer.join(STOP_TIMEOUT_S)
