"""Opening a doc's log file, and repairing what a crash or damage left in it.

The file is opened for appending under an exclusive ``flock`` on the file the path
names (``open_locked``, docs/storage.md); ``DocLog.open`` then cuts a torn tail (an
append a crashed writer left unfinished) or, for a corrupt record, keeps the
damaged file under ``.quarantine/`` and rewrites the log with its valid prefix.
What was repaired is a ``Recovery``. Nothing is ever deleted.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path

from p2psync.errors import CorruptLogError, LogWriteError, StorageError, UnsupportedLogError
from p2psync.storage import format as fmt
from p2psync.storage.fileops import FileOps, write_file_atomically

log = logging.getLogger(__name__)

QUARANTINE_DIR_NAME = ".quarantine"
_READ_CHUNK_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Recovery:
    """What opening a log had to repair. Nothing is ever deleted.

    ``torn_bytes`` were an interrupted append at the end, cut off. ``corruption``
    names the file and offset of the first bad record; the damaged file was kept at
    ``quarantined_to`` and the log now holds only the records before the damage.
    """

    path: Path
    torn_bytes: int = 0
    corruption: CorruptLogError | None = None
    quarantined_to: Path | None = None


def names_same_file(fd: int, path: Path) -> bool:
    try:
        st = path.stat()
    except FileNotFoundError:
        return False
    here = os.fstat(fd)
    return (here.st_dev, here.st_ino) == (st.st_dev, st.st_ino)


def open_locked(path: Path, *, create: bool) -> int:
    """Open ``path`` for appending with an exclusive lock on the file it names."""
    flags = os.O_RDWR | os.O_APPEND | os.O_CLOEXEC | (os.O_CREAT if create else 0)
    while True:
        try:
            fd = os.open(path, flags, 0o644)
        except FileNotFoundError:
            raise
        except OSError as exc:
            raise StorageError(path, f"cannot open log: {exc.strerror}") from exc
        fcntl.flock(fd, fcntl.LOCK_EX)
        if names_same_file(fd, path):
            return fd
        os.close(fd)  # replaced while we waited for the lock


def read_all(fd: int) -> bytes:
    return pread_all(fd, 0, os.fstat(fd).st_size)


def pread_all(fd: int, offset: int, size: int) -> bytes:
    chunks: list[bytes] = []
    while size > 0:
        chunk = os.pread(fd, min(size, _READ_CHUNK_BYTES), offset)
        if not chunk:
            break
        chunks.append(chunk)
        offset += len(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def repair_torn_tail(
    path: Path, fd: int, data: bytes, scan: fmt.Scan, ops: FileOps
) -> tuple[int, bool]:
    """Cut an interrupted append off the end (or write the header of a new file).

    Returns how many bytes of a previous write were dropped, and whether the file held
    no valid header (it is new, or a crash left it empty or with part of its header).
    Such a header is written but not synced: the file holds nothing yet, and a crash
    leaves it empty or with part of its header, which is torn and repaired by the next
    open. Its first append syncs it with the folder (``DocLog.append``), so a log of
    thousands created at once costs no fsync on creation (docs/storage.md). Raises
    UnsupportedLogError for a newer format version or record type.
    """
    stop = scan.stop
    if stop is None:
        return 0, False
    if stop.damage is fmt.Damage.UNSUPPORTED:
        raise UnsupportedLogError(path, f"at offset {stop.offset}: {stop.reason}")
    dropped = len(data) - scan.end
    if dropped:
        log.warning(
            "%s: cut %d bytes of an interrupted append at offset %d", path, dropped, scan.end
        )
    try:
        ops.truncate(fd, scan.end)
        if scan.end == 0:
            ops.write_all(fd, fmt.encode_header())
        else:
            ops.fdatasync(fd)
    except OSError as exc:
        raise LogWriteError(path, f"cannot repair log: {exc.strerror}") from exc
    return dropped, scan.end == 0


def quarantine(path: Path, data: bytes, scan: fmt.Scan, ops: FileOps) -> Recovery:
    """Keep the damaged file under ``.quarantine/`` and rewrite the log with the valid
    prefix. A crash at any point leaves the damaged log or the repaired one in place,
    and the damaged bytes are never lost."""
    assert scan.stop is not None
    error = CorruptLogError(path, scan.stop.offset, scan.stop.reason)
    qdir = path.parent / QUARANTINE_DIR_NAME
    kept = qdir / f"{path.name}.{time.time_ns()}.corrupt"
    try:
        qdir.mkdir(exist_ok=True)
        os.link(path, kept)  # a second name for the damaged inode: no copy needed
        ops.fsync_dir(qdir)
        valid = data[: scan.end] if scan.end else fmt.encode_header()
        write_file_atomically(path, valid, ops=ops)
    except OSError as exc:
        raise StorageError(
            path, f"{error}; and it could not be quarantined: {exc.strerror}"
        ) from exc
    log.error("%s; the damaged file is kept at %s and the log keeps %d valid bytes",
              error, kept, len(valid))  # fmt: skip
    return Recovery(path, corruption=error, quarantined_to=kept)
