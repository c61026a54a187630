"""watchdog → Trio: coalesced sets of changed paths.

watchdog calls its handlers on its own observer thread. Each event is handed to Trio
with ``TrioToken.run_sync_soon``, which never blocks that thread; on the Trio side
the path joins a set of dirty paths and wakes the consumer. Memory is bounded by the
number of distinct paths, never by the number of events: 1,000 quick appends to one
log are one dirty path. watchdog reports an atomic replace as a move onto the
target, so both ends of a move are reported.
"""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path
from typing import Any

import trio
from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 5.0


class _Handler(FileSystemEventHandler):
    def __init__(self, token: trio.lowlevel.TrioToken, mark: Any) -> None:
        self._token = token
        self._mark = mark

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.is_directory:
            return
        paths = [event.src_path, getattr(event, "dest_path", "")]
        for raw in paths:
            if raw:
                path = Path(raw.decode() if isinstance(raw, bytes) else raw)
                with contextlib.suppress(trio.RunFinishedError):
                    self._token.run_sync_soon(self._mark, path)


class DirWatcher:
    """Watches directories (not recursively) and reports changed file paths.

    Start with ``await nursery.start(watcher.run)``. Cancelling ``run`` stops and
    joins the observer thread (shielded, bounded by STOP_TIMEOUT_S).
    """

    def __init__(self) -> None:
        self._dirty: set[Path] = set()
        self._wakeup = trio.Event()
        self._observer: Any = None
        self._watches: dict[Path, Any] = {}
        self._handler: _Handler | None = None

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Run the observer thread until cancelled."""
        self._handler = _Handler(trio.lowlevel.current_trio_token(), self._mark)
        observer = Observer()
        self._observer = observer
        await trio.to_thread.run_sync(observer.start)
        try:
            task_status.started()
            await trio.sleep_forever()
        finally:
            with trio.CancelScope(shield=True), trio.move_on_after(STOP_TIMEOUT_S):
                observer.stop()
                await trio.to_thread.run_sync(observer.join)

    def add_dir(self, path: Path) -> None:
        """Start reporting changes of files directly in ``path``."""
        if path in self._watches or self._observer is None:
            return
        self._watches[path] = self._observer.schedule(self._handler, str(path), recursive=False)

    def remove_dir(self, path: Path) -> None:
        """Stop reporting changes in ``path``."""
        watch = self._watches.pop(path, None)
        if watch is not None and self._observer is not None:
            self._observer.unschedule(watch)
        self._dirty = {p for p in self._dirty if p.parent != path}

    def _mark(self, path: Path) -> None:
        if path.parent in self._watches:
            self._dirty.add(path)
            self._wakeup.set()

    async def next_changes(self) -> set[Path]:
        """Wait for, and return, every path that changed since the last call."""
        while not self._dirty:
            await self._wakeup.wait()
            self._wakeup = trio.Event()
        changes, self._dirty = self._dirty, set()
        return changes
