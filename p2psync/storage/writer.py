"""The one task that writes a document log, with group commit.

Callers ``await writer.append(updates)`` from any number of tasks; the writer task
takes every request waiting in its queue, stores all their updates with one write
and one ``fdatasync`` (in a worker thread, so the event loop keeps running), and then
wakes every caller. A burst of 10,000 appends therefore costs a handful of fsyncs,
not 10,000. Reads of other processes' appends and compaction commits go through the
same queue, so the log is never touched by two threads at once.

With a ``DocHistory`` (docs/history.md) an append may carry a ``VersionNote``: the
version is recorded in the same worker step, right after the group's write, and the
timeline written once per group; compaction writes the kept versions' states before
it replaces the log.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import trio

from p2psync.errors import StorageError
from p2psync.storage.compaction import SUBPROCESS_MIN_LOG_BYTES, build_snapshot
from p2psync.storage.doclog import DocLog
from p2psync.storage.history import DocHistory, VersionNote, commit_compaction, record_safely
from p2psync.storage.snapshotter import SnapshotWorker, build_in_new_process

log = logging.getLogger(__name__)

QUEUE_REQUESTS = 4096
MAX_BATCH_UPDATES = 65_536

T = TypeVar("T")
LiveState = Callable[[list[bytes]], Awaitable[bytes]]


@dataclass(eq=False)
class _Request(Generic[T]):
    """A unit of work for the writer task and the slot its result is delivered in."""

    work: Callable[[], T] | None  # None marks an append, which is grouped
    updates: Sequence[bytes] = ()
    note: VersionNote | None = None
    on_error: Callable[[BaseException], None] | None = None  # no caller waits for it
    done: trio.Event = field(default_factory=trio.Event)
    result: T | None = None
    error: BaseException | None = None

    async def wait(self) -> T:
        await self.done.wait()
        if self.error is not None:
            raise self.error
        return self.result  # type: ignore[return-value]


class LogWriter:
    """Serialises every operation on one ``DocLog`` through a single task.

    Start it with ``await nursery.start(writer.run)``; stop it with ``aclose()``,
    which lets it finish every queued request first. If the ``run`` task is
    cancelled, a write already handed to its thread still completes (threads cannot be
    interrupted); requests still queued are abandoned and their callers keep waiting
    until they are cancelled too.
    """

    def __init__(
        self,
        doclog: DocLog,
        *,
        on_error: Callable[[BaseException], None] | None = None,
        snapshots: SnapshotWorker | None = None,
        history: DocHistory | None = None,
    ) -> None:
        self.log = doclog
        self.history = history
        self._snapshots = snapshots
        self._on_error = on_error or _log_error(doclog)
        self._send, self._receive = trio.open_memory_channel[_Request[object]](QUEUE_REQUESTS)
        self.history_unsaved = False
        """Whether ``history`` may hold a change its file does not (a save deferred by
        coalescing, or one that failed): closing the writer then saves it, in the
        worker thread; otherwise a close costs no thread hop (an unloader closing
        thousands of writers after a first scan). Set by this writer's own steps, and
        by whoever records a version outside its queue (``daemon.newdocs``)."""
        self._busy = False
        self.is_held = False
        """True while the log is written outside this writer (``held``)."""
        self._unfinished = 0
        """Requests handed to this writer and not done yet (queued, in a channel's
        hand-over to the run task, or being carried out)."""

    @property
    def idle(self) -> bool:
        """True when no request is queued or being carried out: everything handed to
        this writer is durable (or failed)."""
        return not self._busy and self._send.statistics().current_buffer_used == 0

    @property
    def untouched(self) -> bool:
        """True when nothing was ever handed to this writer that it has not done, its
        history holds nothing its file does not, and its log read no record appended by
        another process that its doc has not taken: a writer that never ran and is
        closed now loses nothing (``daemon.newdocs``'s docs, unloaded at once)."""
        return self._unfinished == 0 and not self.history_unsaved and not self.log.has_unseen

    @contextlib.contextmanager
    def held(self) -> Iterator[None]:
        """The log is written outside this writer meanwhile (``daemon.newdocs``: a
        group commit of new docs, before their writers run): not ``idle`` until then,
        so nothing takes it for stored and done with."""
        self._busy = self.is_held = True
        try:
            yield
        finally:
            self._busy = self.is_held = False

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve requests until ``aclose()`` is called and the queue is drained."""
        task_status.started()
        async with self._receive:
            while True:
                try:
                    first = await self._receive.receive()
                except trio.EndOfChannel:
                    if self.history is not None and self.history_unsaved:
                        await trio.to_thread.run_sync(self._save_history, self.history)
                    return
                batch = [first]
                while len(batch) < MAX_BATCH_UPDATES:
                    try:
                        batch.append(self._receive.receive_nowait())
                    except (trio.WouldBlock, trio.EndOfChannel):
                        break
                self._busy = True
                try:
                    await trio.to_thread.run_sync(self._execute, batch)
                finally:
                    self._busy = False
                for request in batch:
                    request.done.set()
                    self._unfinished -= 1
                    if request.error is not None and request.on_error is not None:
                        request.on_error(request.error)

    async def aclose(self) -> None:
        """Stop accepting requests; ``run`` returns once the queued ones are done."""
        await self._send.aclose()

    def close(self) -> None:
        """``aclose`` without yielding (an unloader closing many idle writers at once)."""
        self._send.close()

    async def append(self, updates: Sequence[bytes], note: VersionNote | None = None) -> None:
        """Durably append ``updates``; returns once they survive a crash. ``note``
        makes them a version of the doc's history (ignored without a history).

        Raises LogWriteError if they could not be stored (none of them is then).
        """
        if updates or self._noted(note):
            await self._submit(_Request[None](None, updates, note=note))

    async def enqueue(self, updates: Sequence[bytes], note: VersionNote | None = None) -> None:
        """Queue ``updates`` for appending without waiting for the fsync.

        Blocks only while the queue is full (backpressure). Updates whose append
        fails are reported to ``on_error`` (given to the constructor) and logged.
        A ``note`` with no updates records a version of what the log holds by then
        (updates other processes appended).
        """
        if updates or self._noted(note):
            request = _Request[object](None, updates, note=note, on_error=self._on_error)
            await self._hand_over(request)

    def _noted(self, note: VersionNote | None) -> bool:
        return note is not None and self.history is not None

    async def with_history(self, read: Callable[[DocHistory, DocLog], T]) -> T:
        """``read(history, log)`` in the writer's thread, after everything queued before.
        Raises StorageError if this writer keeps no history."""
        history = self.history
        if history is None:
            raise StorageError(self.log.path, "this doc keeps no history")
        self.history_unsaved = True  # ``read`` may change it (a mark, a restore)
        return await self._submit(_Request(lambda: read(history, self.log)))

    async def flush(self) -> None:
        """Return once everything queued before this call is durable (or failed). With
        nothing unfinished that holds already: no round trip through the worker thread
        (the mirror asks before every file it writes)."""
        if self._unfinished == 0:
            await trio.lowlevel.checkpoint()
            return
        await self._submit(_Request(lambda: None))

    async def read_new(self) -> list[bytes]:
        """Updates other processes appended since the last call (see DocLog.read_new)."""
        return await self._submit(_Request(self.log.read_new))

    async def read_changes(self) -> tuple[list[bytes], bool]:
        """``read_new``, and whether the file was replaced or deleted behind our back
        (``DocLog.take_replaced``), in one request: the writer may close right after."""
        return await self._submit(_Request(lambda: (self.log.read_new(), self.log.take_replaced())))

    async def compact(self, live_state: LiveState | None = None) -> None:
        """Rewrite the log as one snapshot plus whatever is appended meanwhile.

        With ``live_state`` (the owner holds the doc in memory) the snapshot is the
        live doc's state: the function gets the updates other processes appended that
        the owner has not applied yet, must apply them, and returns the full state.
        Without it the snapshot is built from the log, in a subprocess for large logs
        so the GIL-heavy pycrdt work never stalls the event loop. Appends go on
        meanwhile; only the short commit step is serialised with them.
        """
        if live_state is not None:
            # read_new first: following a replaced file moves the end
            unseen, prefix_end = await self._submit(
                _Request(lambda: (self.log.read_new(), self.log.end))
            )
            snapshot = await live_state(unseen)
        else:
            prefix_end = await self._submit(_Request(lambda: self.log.end))
            if prefix_end < SUBPROCESS_MIN_LOG_BYTES:
                snapshot = await trio.to_thread.run_sync(build_snapshot, self.log.path, prefix_end)
            elif self._snapshots is not None:
                snapshot = await self._snapshots.build(self.log.path, prefix_end)
            else:
                snapshot = await build_in_new_process(self.log.path, prefix_end)
        self.history_unsaved = self.history is not None
        await self._submit(
            _Request(lambda: commit_compaction(self.log, prefix_end, snapshot, self.history))
        )
        log.info("%s: compacted to a %d-byte snapshot", self.log.path, len(snapshot))

    def _save_history(self, history: DocHistory) -> None:
        record_safely(history, history.save)

    async def _submit(self, request: _Request[T]) -> T:
        await self._hand_over(request)  # type: ignore[arg-type]
        return await request.wait()

    async def _hand_over(self, request: _Request[object]) -> None:
        self._unfinished += 1
        try:
            await self._send.send(request)
        except BaseException:  # not taken (cancelled while the queue was full, closed)
            self._unfinished -= 1
            raise

    def _execute(self, batch: list[_Request[object]]) -> None:
        """Run a batch in the worker thread: contiguous appends share one write + fsync."""
        pending: list[_Request[object]] = []
        for request in batch:
            if request.work is None:
                pending.append(request)
                continue
            self._flush(pending)
            pending = []
            try:
                request.result = request.work()
            except Exception as exc:  # delivered to the caller
                request.error = exc
        self._flush(pending)

    def _flush(self, appends: list[_Request[object]]) -> None:
        if not appends:
            return
        updates = [u for request in appends for u in request.updates]
        try:
            if updates:
                self.log.append(updates)
        except Exception as exc:  # delivered to every caller of the group
            for request in appends:
                request.error = exc
            return
        history = self.history
        if history is not None and any(request.note for request in appends):
            self.history_unsaved = True  # a save(force=False) may be deferred
            record_safely(history, lambda: self._record(history, appends, len(updates)))

    def _record(self, history: DocHistory, appends: list[_Request[object]], total: int) -> None:
        """Record the group's notes at their updates' positions, then write the timeline."""
        position = self.log.update_count - total
        for request in appends:
            end = position + len(request.updates)
            if request.note is not None:
                history.note(request.note, position, end, self.log)
            position = end
        history.save(force=False)


def _log_error(doclog: DocLog) -> Callable[[BaseException], None]:
    def report(error: BaseException) -> None:
        log.error("%s: queued updates were not stored: %s", doclog.path, error)

    return report
