"""Snapshots of large logs, built outside the daemon's process.

pycrdt holds the GIL while it loads a large log, which would stall the event loop,
so snapshots of logs over SUBPROCESS_MIN_LOG_BYTES are built by a subprocess
(``p2psync.storage.snapshot_worker``). ``SnapshotWorker`` keeps one warm worker, so a
compaction does not pay for interpreter start-up and imports each time;
``build_in_new_process`` is the one-shot fallback.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import trio

from p2psync.errors import StorageError
from p2psync.storage.compaction import WORKER_REPLY_HEADER

WORKER_COMMAND = [sys.executable, "-m", "p2psync.storage.snapshot_worker"]
RECEIVE_BYTES = 1 << 20
STOP_TIMEOUT_S = 5.0


class SnapshotWorker:
    """One long-lived snapshot subprocess, used by one request at a time.

    Started on first use; a worker that died is started again on the next request.
    ``aclose`` ends it (it also ends by itself when the daemon's end of the pipe closes).
    """

    def __init__(self) -> None:
        self._process: trio.Process | None = None
        self._lock = trio.Lock()
        self._buffer = bytearray()

    async def build(self, path: Path, prefix_end: int) -> bytes:
        """The full state of the records of ``path`` before ``prefix_end``.

        Raises StorageError if the log is damaged or the worker fails.
        """
        async with self._lock:
            process = await self._started()
            assert process.stdin is not None
            try:
                await process.stdin.send_all(f"{prefix_end} ".encode() + bytes(path) + b"\n")
                status, length = WORKER_REPLY_HEADER.unpack(
                    await self._read(WORKER_REPLY_HEADER.size)
                )
                body = await self._read(length)
            except (trio.BrokenResourceError, trio.ClosedResourceError, EOFError) as exc:
                await self._discard()
                raise StorageError(path, f"the snapshot worker died: {exc}") from exc
            if status != 0:
                raise StorageError(path, f"snapshot failed: {body.decode(errors='replace')}")
            return body

    async def aclose(self) -> None:
        """Stop the worker."""
        await self._discard()

    async def _started(self) -> trio.Process:
        if self._process is None or self._process.returncode is not None:
            self._buffer.clear()
            self._process = await trio.lowlevel.open_process(
                [*WORKER_COMMAND, "--serve"], stdin=subprocess.PIPE, stdout=subprocess.PIPE
            )
        return self._process

    async def _read(self, size: int) -> bytes:
        assert self._process is not None
        assert self._process.stdout is not None
        while len(self._buffer) < size:
            chunk = await self._process.stdout.receive_some(RECEIVE_BYTES)
            if not chunk:
                raise EOFError("the worker closed its output")
            self._buffer += chunk
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    async def _discard(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            with trio.CancelScope(shield=True):
                if process.stdin is not None:
                    await process.stdin.aclose()  # the worker sees end of input and exits
                with trio.move_on_after(STOP_TIMEOUT_S):
                    await process.wait()
                if process.returncode is None:
                    process.kill()
                    await process.wait()
                if process.stdout is not None:
                    await process.stdout.aclose()


async def build_in_new_process(path: Path, prefix_end: int) -> bytes:
    """One snapshot from a fresh subprocess (no worker kept)."""
    command = [*WORKER_COMMAND, str(path), str(prefix_end)]
    result = await trio.run_process(command, capture_stdout=True, capture_stderr=True, check=False)
    if result.returncode != 0:
        reason = result.stderr.decode(errors="replace").strip() or f"exit {result.returncode}"
        raise StorageError(path, f"compaction subprocess failed: {reason}")
    return result.stdout
