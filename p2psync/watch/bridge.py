"""watchdog -> Trio: coalesced sets of changed file paths.

With ``prune`` (its inotify observer that leaves a folder unwatched), this is the
only module of p2psync that touches watchdog. watchdog runs its own
threads (an inotify reader, one emitter per watched directory and the observer that
calls our handler). The handler never blocks them and never waits for Trio: it adds
the event's paths to a lock-protected set (:class:`_Inbox`) and, only when that set
was empty of news, asks Trio to wake the consumer with
``TrioToken.run_sync_soon``. So the number of pending Trio callbacks is at most
one, and memory is bounded by the number of distinct paths, never by the number of
events: 1,000 quick appends to one log are one dirty path.

On the Trio side the consumer's task moves those paths into a
:class:`~p2psync.watch.coalesce.DirtySet`, drops what is no longer watched or what
the filter rejects, and returns the batch when it is ready. A watcher made with
``hold`` also asks inotify for close-after-write and holds each file until its
writer is done with it (:class:`~p2psync.watch.coalesce.HoldRules`); the stats that
takes run in a worker thread.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import os
import stat
import threading
from collections.abc import Awaitable, Callable, Iterable, Sequence
from pathlib import Path

import trio
from watchdog.events import (
    FileClosedEvent,
    FileCreatedEvent,
    FileDeletedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileSystemEvent,
    FileSystemEventHandler,
)
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver, ObservedWatch
from watchdog.utils import UnsupportedLibcError

from p2psync.watch.coalesce import (
    NOT_A_FILE,
    Change,
    DirtySet,
    HoldRules,
    Signature,
    event_changes,
    is_watched,
)

log = logging.getLogger(__name__)

#: How long cancellation waits for the observer's threads to stop and be joined.
STOP_TIMEOUT_S = 5.0
#: Default bound on how long ``next_changes`` may hold a batch back waiting for quiet.
MAX_DEBOUNCE_DELAY_S = 2.0

# Asking watchdog for these event classes only also narrows the inotify mask: no
# open events and no close-without-write, which reading a log would otherwise
# generate. A holding watcher adds close-after-write (IN_CLOSE_WRITE), which a read
# never makes.
_EVENT_CLASSES: list[type[FileSystemEvent]] = [
    FileCreatedEvent,
    FileModifiedEvent,
    FileMovedEvent,
    FileDeletedEvent,
]
_HOLD_EVENT_CLASSES: list[type[FileSystemEvent]] = [*_EVENT_CLASSES, FileClosedEvent]


class _Inbox:
    """Changed paths handed over by watchdog's thread, each with its latest change,
    waiting for the Trio side; thread-safe.

    ``put`` runs on watchdog's observer thread and only holds a lock for a set update;
    everything else runs on the Trio thread. While closed (before ``open``, after
    ``close``) events are dropped.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changes: dict[Path, Change] = {}
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

    def put(self, changes: Iterable[tuple[Path, Change]]) -> None:
        """Add changed paths; called on watchdog's thread, never blocks on Trio.

        A path's latest change replaces its earlier ones: each says what the path is
        now (being written, closed, replaced)."""
        with self._lock:
            token = self._token
            if token is None:
                return
            self._changes.update(changes)
            if self._wake_pending:
                return
            self._wake_pending = True
        # RunFinishedError: the Trio run is over and nobody is left to tell.
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(self._on_wake)

    def drain(self) -> dict[Path, Change]:
        """Take every change handed over so far (Trio thread)."""
        with self._lock:
            changes, self._changes = self._changes, {}
        return changes

    def peek(self) -> dict[Path, Change]:
        """The changes handed over and not yet drained, left in place."""
        with self._lock:
            return dict(self._changes)

    def _on_wake(self) -> None:
        # Runs on the Trio thread as a run_sync_soon callback: it must not raise.
        with self._lock:
            self._wake_pending = False
            wake = self._wake
        if wake is not None:
            wake()


class _Handler(FileSystemEventHandler):
    """watchdog's side of the bridge: turns each event into paths for the inbox."""

    def __init__(self, inbox: _Inbox, skip: Path | None = None) -> None:
        super().__init__()
        self._inbox = inbox
        self._skip = os.fsdecode(skip) if skip is not None else ""

    def _skipped(self, path: str | bytes) -> bool:
        """Whether ``path`` is the skipped folder or lies below it (an empty end: a
        move from or to an unwatched place, skipped too)."""
        text = os.fsdecode(path)
        return not text or text == self._skip or text.startswith(self._skip + os.sep)

    def on_any_event(self, event: FileSystemEvent) -> None:
        # An exception here would kill watchdog's observer thread and silently end
        # all watching, so it is logged instead.
        try:
            if self._skip and self._skipped(event.src_path) and self._skipped(event.dest_path):
                return  # the daemon's own files: never handed over, no wake-up
            changes = event_changes(
                event.event_type, event.src_path, event.dest_path, is_directory=event.is_directory
            )
            if self._skip:  # a move out of the skipped folder: only its other end
                changes = tuple(c for c in changes if not self._skipped(str(c[0])))
            if changes:
                self._inbox.put(changes)
        except Exception:
            log.exception("could not hand over watchdog event %r", event)


class DirWatcher:
    """Watches directories and reports the file paths that changed in them, coalesced.

    A Trio service: start it with ``await nursery.start(watcher.run)``. Directories
    can be added and removed at any time (``add_dir``/``remove_dir``); only files
    directly in a watched directory are reported, or anywhere below it if
    ``recursive``. ``filter``, if given, is called on the Trio thread with each
    changed path; paths for which it returns false are never reported. Changes in
    folder ``skip`` (both ends of a move) are never reported either: a folder the
    owner writes a lot in and never wants to hear of, such as the daemon's own
    ``.p2psync``. A recursive watcher on Linux does not watch it at all (nor any
    folder below it, even one made later), so its events cost nothing; elsewhere, or
    if watchdog's internals are not the expected ones (``p2psync.watch.prune``), they
    are dropped on watchdog's thread, before they cost the Trio side anything. A file
    moved from ``skip`` into a watched folder is reported (complete, with ``hold``).

    A change is a file created, modified (content, not attributes), deleted, or moved
    (both ends; an atomic replace reports its target). One consumer calls
    ``next_changes`` in a loop. watchdog can miss changes (inotify queue overflow, a
    directory moved in wholesale): a periodic rescan by the caller covers those.

    With ``hold`` (Linux: it needs inotify's close-after-write) a file is reported
    only once its writer is done with it, as ``hold`` says: a program that writes a
    file in several writes, or truncates it and writes it again, is one change, never
    its states in between. A rename onto the path is complete at once. Without it
    (where every change of a file is worth seeing at once, like a log read as it
    grows) a file is reported as soon as the debounce allows.
    """

    def __init__(
        self,
        dirs: Sequence[Path] = (),
        *,
        filter: Callable[[Path], bool] | None = None,
        recursive: bool = False,
        hold: HoldRules | None = None,
        skip: Path | None = None,
    ) -> None:
        self._recursive = recursive
        self._filter = filter
        self._watches: dict[Path, ObservedWatch | None] = {path.absolute(): None for path in dirs}
        self._observer: BaseObserver | None = None
        self._running = False
        self._inbox = _Inbox()
        skip = skip.absolute() if skip is not None else None
        self._handler = _Handler(self._inbox, skip)
        # Recursive: no inotify watch on the skipped folder at all, where watchdog
        # allows (p2psync.watch.prune); the handler still drops what comes from it.
        self._prune = skip if recursive else None
        self._dirty = DirtySet(hold)
        self._wakeup = trio.Event()
        # How held files are stat'ed; the unit tests put a fake folder here.
        self._stat_files: Callable[[list[Path]], Awaitable[dict[Path, Signature]]] = _stat_in_thread

    @property
    def pending(self) -> bool:
        """Whether changes were seen that ``next_changes`` has not reported yet
        (within the debounce, or held until their writer is done)."""
        return bool(self._dirty) or bool(self._inbox.peek())

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
            observer = self._make_observer()
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

    def held(self) -> frozenset[Path]:
        """Changed files held back because their writer may not be done with them
        (always empty without ``hold``); what watchdog handed over and
        ``next_changes`` did not take in yet counts too."""
        if self._dirty.hold is None:
            return frozenset()
        fresh = {
            path
            for path, change in self._inbox.peek().items()
            if change is not Change.REPLACED and self._wanted(path)
        }
        return self._dirty.held() | fresh

    async def next_changes(
        self, *, min_quiet_s: float = 0.0, max_delay_s: float = MAX_DEBOUNCE_DELAY_S
    ) -> set[Path]:
        """Wait for changes and return every path that changed since the last call.

        With ``min_quiet_s`` 0 this returns as soon as anything is dirty. Otherwise it
        waits until no change arrived for ``min_quiet_s`` (debounce, for plain-file
        saves), but holds a batch back at most ``max_delay_s`` after its first change.
        Changes that happen while nobody waits accumulate (one entry per path).

        With ``hold``, a file its writer may not be done with is left out of the
        batch until it is (it does not delay the others); this stats the files in
        question in a worker thread.

        Cancellation loses nothing: the paths stay dirty for the next call (it waits
        for a stat under way, a few system calls). Exceptions from ``filter``
        propagate. Meant for one consumer at a time; it keeps waiting if ``run`` is
        not (or no longer) running.
        """
        if min_quiet_s < 0 or max_delay_s < 0:
            raise ValueError("min_quiet_s and max_delay_s must not be negative")
        await trio.lowlevel.checkpoint()
        while True:
            # A fresh event before draining: a wake for anything handed over after
            # the drain sets this event, so no change is waited past.
            wakeup = self._wakeup = trio.Event()
            self._absorb()
            now = trio.current_time()
            wanted = self._dirty.to_stat(now)
            if wanted:
                stats = await self._stat_files(wanted)
                self._dirty.observe(stats, trio.current_time())
                continue
            ready = self._dirty.take_ready(now, min_quiet_s=min_quiet_s, max_delay_s=max_delay_s)
            if ready:
                return ready
            wait_s = self._dirty.wait_s(now, min_quiet_s=min_quiet_s, max_delay_s=max_delay_s)
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
        changes = self._inbox.drain()
        if changes:
            wanted = [(path, change) for path, change in changes.items() if self._wanted(path)]
            self._dirty.add(wanted, trio.current_time())

    def _wanted(self, path: Path) -> bool:
        return self._is_watched(path) and (self._filter is None or self._filter(path))

    def _make_observer(self) -> BaseObserver:
        """watchdog's observer; constructing it opens its inotify descriptor and
        starts its reader thread."""
        hold = self._dirty.hold is not None
        if not hold and self._prune is None:
            return Observer()
        try:
            # Here, not at the top: importing it elsewhere than on Linux fails.
            from p2psync.watch.prune import inotify_observer  # noqa: PLC0415
        except (ImportError, UnsupportedLibcError):  # not Linux: no close-after-write to wait for
            if hold:
                log.warning("no inotify here: files are reported without waiting for their writer")
                self._dirty.hold = None
            return Observer()
        # Full events: a file moved in from an unwatched place (or from the pruned
        # folder) is a move onto its path (complete), not a creation (which would
        # wait for a close).
        return inotify_observer(full_events=hold, prune=self._prune)

    def _is_watched(self, path: Path) -> bool:
        return is_watched(path, self._watches.keys(), recursive=self._recursive)

    def _schedule(self, observer: BaseObserver, path: Path) -> ObservedWatch:
        # watchdog would silently watch a file (its parent, filtered) or fail later
        # with a bare inotify error: say which directory.
        if not path.is_dir():
            raise FileNotFoundError(errno.ENOENT, "cannot watch: not a directory", str(path))
        classes = _EVENT_CLASSES if self._dirty.hold is None else _HOLD_EVENT_CLASSES
        return observer.schedule(
            self._handler, str(path), recursive=self._recursive, event_filter=classes
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


async def _stat_in_thread(paths: list[Path]) -> dict[Path, Signature]:
    """Stat each path in a worker thread (cancellation waits for it: a few syscalls)."""
    return await trio.to_thread.run_sync(_signatures, paths)


def _signatures(paths: Iterable[Path]) -> dict[Path, Signature]:
    return {path: _signature(path) for path in paths}


def _signature(path: Path) -> Signature:
    try:
        st = os.lstat(path)
    except OSError:  # gone, or not reachable: both mean "nothing to read yet"
        return None
    if not stat.S_ISREG(st.st_mode):
        return NOT_A_FILE
    return (st.st_size, st.st_mtime_ns, st.st_ino)


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
