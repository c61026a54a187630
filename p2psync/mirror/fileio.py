"""The mirror's file operations on a share folder: read, atomic write, rename, delete.

Blocking (run them in a worker thread). Every path is a share path checked with
``paths.is_inside`` (nothing is followed through a symlink, nothing lands outside the
share). A write goes to a temporary file under ``.p2psync/tmp/`` (so the watcher
never sees a half-written file in the share), is fsynced, and replaces the target
with ``os.replace`` only if the target still is what the caller last read
(``expect``): a save that happened in between raises ``FileChangedError`` and the
caller merges it first. Permissions of a replaced file are kept.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import NamedTuple

from p2psync.errors import P2PSyncError
from p2psync.mirror.paths import case_key, is_inside
from p2psync.storage.layout import marker_dir

EXEC_BITS = stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH


class FileStat(NamedTuple):
    """What tells a file apart from the one last seen without reading it."""

    size: int
    mtime_ns: int
    ino: int
    mode: int

    @classmethod
    def of(cls, st: os.stat_result) -> FileStat:
        return cls(st.st_size, st.st_mtime_ns, st.st_ino, st.st_mode)

    @property
    def executable(self) -> bool:
        return bool(self.mode & stat.S_IXUSR)


class FileChangedError(P2PSyncError):
    """The file changed on disk after it was read: merge the change, then retry."""


class NotAFileError(P2PSyncError):
    """The path holds a symlink, a device or a folder: the mirror leaves it alone."""


def local_stat(root: Path, rel: str) -> FileStat | None:
    """The stat of the file at ``rel`` (not following links), None if nothing is there.
    Raises NotAFileError if it is not a regular file."""
    try:
        st = os.lstat(root / rel)
    except (FileNotFoundError, NotADirectoryError):
        return None
    if not stat.S_ISREG(st.st_mode):
        kind = "a symlink" if stat.S_ISLNK(st.st_mode) else "not a regular file"
        raise NotAFileError(f"{rel} is {kind}; it is not synced")
    return FileStat.of(st)


def read_file(root: Path, rel: str) -> tuple[bytes, FileStat] | None:
    """The bytes and stat of the file at ``rel``, None if it does not exist. Raises
    UnsafePathError if it or a folder on its path is a symlink (never followed),
    NotAFileError for a socket, device or folder."""
    path = is_inside(root, rel)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:
        if exc.errno == 40:  # ELOOP: the last component is a symlink
            raise NotAFileError(f"{rel} is a symlink; it is not synced") from None
        raise
    with os.fdopen(fd, "rb") as file:
        st = os.fstat(file.fileno())
        if not stat.S_ISREG(st.st_mode):
            raise NotAFileError(f"{rel} is not a regular file; it is not synced")
        data = file.read()
    return data, FileStat.of(st)


def _check_expected(root: Path, rel: str, expect: FileStat | None) -> os.stat_result | None:
    try:
        current = os.lstat(root / rel)
    except (FileNotFoundError, NotADirectoryError):
        current = None
    if (None if current is None else FileStat.of(current)) != expect:
        raise FileChangedError(f"{rel} changed on disk since it was read")
    return current


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_file(
    root: Path,
    rel: str,
    data: bytes | Iterable[bytes],
    *,
    executable: bool,
    expect: FileStat | None,
    prepared: Callable[[FileStat], None] | None = None,
    raced: Callable[[bytes], None] | None = None,
) -> FileStat:
    """Replace the file at ``rel`` with ``data`` (bytes, or pieces written in turn, so
    a large file need not be in memory at once) atomically, creating folders as
    needed; returns the new file's stat as written (taken before the rename, which
    changes none of its fields: a program's write that slips in after the rename must
    read as a change, which a stat taken after it would hide). ``expect`` is the stat
    last read (None: the
    file must not exist). ``prepared`` is called with the new file's stat once its
    bytes are durable, just before it replaces the target (to write a record
    ahead of the rename). ``raced`` is called with what the replaced file held if a
    program wrote to it between the check against ``expect`` and the rename (its
    write went to the file being replaced: without this it would be gone). Raises
    FileChangedError if the file is no longer that, UnsafePathError if the path is
    unsafe, OSError if writing fails (the file is then unchanged)."""
    target = is_inside(root, rel)
    parent = target.parent
    if not parent.is_dir():
        parent.mkdir(parents=True, exist_ok=True)
        is_inside(root, rel)  # a folder made by someone else meanwhile could be a link
    tmp_dir = marker_dir(root) / "tmp"
    tmp_dir.mkdir(exist_ok=True)
    tmp = tmp_dir / f"w-{secrets.token_hex(8)}"
    mode = (expect.mode & 0o7777) if expect is not None else (0o666 & ~_umask())
    mode = (
        (mode | (EXEC_BITS & ~_umask() if executable else 0)) if executable else mode & ~EXEC_BITS
    )
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "wb") as file:
            for part in [data] if isinstance(data, bytes) else data:
                file.write(part)
            file.flush()
            os.fchmod(file.fileno(), mode)
            os.fdatasync(file.fileno())
            written = FileStat.of(os.fstat(file.fileno()))
            if prepared is not None:
                prepared(written)
        with _held_open(target, expect if raced is not None else None) as held:
            _check_expected(root, rel, expect)
            tmp.replace(target)
            if held is not None and raced is not None and _written_since(held, expect):
                raced(_read_all(held))
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    return written


@contextlib.contextmanager
def _held_open(target: Path, expect: FileStat | None) -> Iterator[int | None]:
    """A read descriptor of the file at ``target`` if it is the one ``expect`` names
    (None otherwise, or if ``expect`` is None): it still reads that file once another
    replaced it at the path."""
    fd = None
    if expect is not None:
        with contextlib.suppress(OSError):
            fd = os.open(target, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        if fd is not None and os.fstat(fd).st_ino != expect.ino:
            os.close(fd)
            fd = None
    try:
        yield fd
    finally:
        if fd is not None:
            os.close(fd)


def _written_since(fd: int, expect: FileStat | None) -> bool:
    st = os.fstat(fd)
    return expect is not None and (st.st_size, st.st_mtime_ns) != (expect.size, expect.mtime_ns)


def _read_all(fd: int) -> bytes:
    size = os.fstat(fd).st_size
    parts, offset = [], 0
    while offset < size:
        part = os.pread(fd, min(size - offset, 1 << 20), offset)
        if not part:
            break
        parts.append(part)
        offset += len(part)
    return b"".join(parts)


def set_executable(root: Path, rel: str, executable: bool, *, expect: FileStat) -> FileStat:
    """Set or clear the exec bits of the file at ``rel`` (checked against ``expect``)."""
    current = _check_expected(root, rel, expect)
    assert current is not None
    mode = current.st_mode & 0o7777
    mode = mode | (EXEC_BITS & ~_umask()) if executable else mode & ~EXEC_BITS
    is_inside(root, rel).chmod(mode, follow_symlinks=False)
    return FileStat.of(os.lstat(root / rel))


def remove_file(root: Path, rel: str, *, expect: FileStat) -> None:
    """Delete the file at ``rel`` if it is still ``expect``, then the folders it leaves
    empty (up to the share root)."""
    path = is_inside(root, rel)
    _check_expected(root, rel, expect)
    path.unlink()
    remove_empty_parents(root, rel)


def move_file(root: Path, old: str, new: str, *, expect: FileStat) -> FileStat:
    """Rename ``old`` to ``new`` (which must not exist), creating folders as needed.
    Raises FileChangedError if ``old`` is not ``expect`` or ``new`` exists. On a
    case-insensitive filesystem ``new`` may be ``old`` spelled in another case: it
    "exists" as the very same file, and the rename changes the name's case (and
    that of its folders, which then changes for their other files too). Returns
    ``expect``: a rename changes none of its fields, and a write that slips in
    between the check and the rename must read as a change afterwards, which the
    stat taken after the rename would hide."""
    source = is_inside(root, old)
    target = is_inside(root, new)
    current = _check_expected(root, old, expect)
    spelling = case_key(old) == case_key(new) and _same_file(current, target)
    if os.path.lexists(target) and not spelling:  # (a hard link is not a spelling)
        raise FileChangedError(f"{new} already exists")
    if spelling:
        source = _respell_folders(root, old, new)
    target.parent.mkdir(parents=True, exist_ok=True)
    is_inside(root, new)
    source.rename(target)
    remove_empty_parents(root, old)
    return expect


def _respell_folders(root: Path, old: str, new: str) -> Path:
    """Rename each folder of ``old`` spelled otherwise in ``new`` (the same folder on
    a case-insensitive filesystem) to that spelling; returns where ``old``'s file is
    now."""
    old_parts, new_parts = old.split("/"), new.split("/")
    done = root
    for was, now in zip(old_parts[:-1], new_parts[:-1], strict=True):
        if was != now:
            (done / was).rename(done / now)
        done /= now
    return done / old_parts[-1]


def _same_file(st: os.stat_result | None, path: Path) -> bool:
    try:
        other = os.lstat(path)
    except OSError:
        return False
    return st is not None and (st.st_dev, st.st_ino) == (other.st_dev, other.st_ino)


def remove_empty_parents(root: Path, rel: str) -> None:
    """Remove the folders of ``rel`` that are empty, deepest first, up to ``root``."""
    parts = rel.split("/")[:-1]
    while parts:
        with contextlib.suppress(OSError):
            (root / "/".join(parts)).rmdir()
        parts.pop()
