"""The few system calls the log layer makes, behind one seam.

Logs write through a ``FileOps`` object so tests can inject ENOSPC or EIO at any
write or fsync (a fake that fails on the Nth call) without touching the real ``os``
module. The default instance calls the operating system directly.
"""

from __future__ import annotations

import contextlib
import contextvars
import os
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path


class FileOps:
    """Durable file primitives. Every method raises OSError exactly as the OS does."""

    def write_all(self, fd: int, data: bytes) -> None:
        """Write all of ``data`` to ``fd`` (an O_APPEND descriptor), looping on short writes."""
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]

    def fdatasync(self, fd: int) -> None:
        """Make the file's data (and size) durable."""
        os.fdatasync(fd)

    def fsync(self, fd: int) -> None:
        """Make the file's data and metadata durable."""
        os.fsync(fd)

    def truncate(self, fd: int, size: int) -> None:
        """Cut the file to ``size`` bytes."""
        os.ftruncate(fd, size)

    def fsync_dir(self, path: Path) -> None:
        """Make a directory's entries (creates, renames) durable."""
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def replace(self, src: Path, dst: Path) -> None:
        """Atomically rename ``src`` onto ``dst``."""
        src.replace(dst)


REAL_FILE_OPS = FileOps()

_FOLDERS_LATER: contextvars.ContextVar[set[Path] | None] = contextvars.ContextVar(
    "folders_synced_later", default=None
)
"""The folders whose fsync ``grouped_folder_syncs`` does at its end; None outside it."""


@contextlib.contextmanager
def grouped_folder_syncs(ops: FileOps = REAL_FILE_OPS) -> Iterator[None]:
    """Group commit of many atomic writes: inside this block (this context, and the
    copies of it a worker thread runs a step in: ``contextvars.copy_context().run``),
    ``atomic_writer`` fsyncs each temp file and renames it as always, but leaves the
    fsync of the folder to the block's end, which fsyncs each such folder once for
    all of them (one rename or ten thousand, one folder fsync makes them durable).
    A file written in the block is durable only when the block has ended: its caller
    acknowledges nothing before. OSError from a folder's fsync propagates (then
    every rename of the block is to be taken as not durable)."""
    folders: set[Path] = set()
    token = _FOLDERS_LATER.set(folders)
    try:
        yield
    finally:
        _FOLDERS_LATER.reset(token)
    for folder in sorted(folders):
        ops.fsync_dir(folder)


def write_file_atomically(
    path: Path, data: bytes, *, mode: int = 0o644, ops: FileOps = REAL_FILE_OPS
) -> None:
    """Replace ``path`` with ``data`` so that a crash leaves either the old or new file.

    Writes a temp file beside ``path``, fsyncs it, renames it over ``path`` and fsyncs
    the directory (at the end of the group, inside ``grouped_folder_syncs``). On error
    the temp file is removed and the OSError propagates.
    """
    with atomic_writer(path, mode=mode, ops=ops) as write:
        write(data)


SMALL_FILE = 4096
"""The most bytes ``write_new_file`` writes in place: one page, which a crash leaves
whole or absent, never cut."""


def write_new_file(
    path: Path, data: bytes, *, mode: int = 0o644, ops: FileOps = REAL_FILE_OPS
) -> None:
    """Create ``path`` holding ``data`` (at most ``SMALL_FILE`` bytes) durably where no
    file is: written in place and fsynced, then its folder (at the end of the group,
    inside ``grouped_folder_syncs``). No temp file and no rename, which cost a new
    file two more entries of its folder and two more events for every watcher of it.
    A crash leaves no file, an empty one, or the whole: its readers take an empty
    file for none. Raises FileExistsError if a file is there (nothing is changed
    then: replace it with ``write_file_atomically``), OSError if the write fails
    (the file is removed)."""
    if len(data) > SMALL_FILE:
        raise ValueError(f"{len(data)} bytes: more than write_new_file writes in place")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            ops.write_all(fd, data)
            ops.fsync(fd)
        finally:
            os.close(fd)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        raise
    _sync_folder(path.parent, ops)


def _sync_folder(folder: Path, ops: FileOps) -> None:
    """fsync ``folder`` now, or at the end of the enclosing ``grouped_folder_syncs``."""
    later = _FOLDERS_LATER.get()
    if later is None:
        ops.fsync_dir(folder)
    else:
        later.add(folder)


@contextlib.contextmanager
def atomic_writer(
    path: Path, *, mode: int = 0o644, ops: FileOps = REAL_FILE_OPS
) -> Iterator[Callable[[bytes], None]]:
    """``write_file_atomically`` piece by piece: yields a function that appends to the
    temp file; ``path`` is replaced only if the block ends without an exception (the
    temp file is removed otherwise, and ``path`` is left as it was)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # O_EXCL: never reuse a leftover temp file, whose permissions could be looser.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        try:
            yield lambda data: ops.write_all(fd, data)
            ops.fsync(fd)
        finally:
            os.close(fd)
        ops.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    _sync_folder(path.parent, ops)
