"""A case-insensitive, case-preserving filesystem for tests: FUSE over a folder.

``python -m tests.integration.mirror.casefold_fs BACKING MOUNTPOINT`` mounts
``BACKING`` at ``MOUNTPOINT`` (in the foreground, until unmounted) so that names
compare as on APFS or NTFS: a lookup finds a name in any case (and in either Unicode
normalisation), a new name keeps the spelling it was created with, and renaming a
file to another case of its own name changes the spelling. Linux's own filesystems
here are case-sensitive and tmpfs casefold is not in this kernel, so this is what
lets the mirror meet a real case-insensitive folder. Needs ``/dev/fuse``, libfuse 3
(``packaging/system-deps.sh``) and mfusepy; a plain passthrough otherwise.
"""

# ruff: noqa: PTH101, PTH102, PTH104, PTH105, PTH106, PTH108, PTH115, PTH118, PTH121, PTH208, PTH211
# A FUSE passthrough: libfuse hands over str paths, os-level calls on them fit best.

from __future__ import annotations

import errno
import os
import sys
import unicodedata
from typing import Any

import mfusepy


def fold(name: str) -> str:
    return unicodedata.normalize("NFC", unicodedata.normalize("NFD", name).casefold())


class CaseFolding(mfusepy.Operations):  # type: ignore[misc]
    """Passthrough to ``backing`` whose lookups ignore case and normalisation."""

    use_ns = True

    def __init__(self, backing: str) -> None:
        self.backing = backing

    def _real(self, path: str) -> str:
        """The backing path of ``path``: each component as spelled on disk, the
        requested spelling for what does not exist (yet)."""
        current = self.backing
        for name in (part for part in path.split("/") if part):
            exact = os.path.join(current, name)
            if not os.path.lexists(exact):
                try:
                    found = [n for n in os.listdir(current) if fold(n) == fold(name)]
                except OSError:
                    found = []
                if found:
                    exact = os.path.join(current, found[0])
            current = exact
        return current

    def _new(self, path: str) -> str:
        """Where a new name goes: its folder resolved, its own spelling kept."""
        parent, _, name = path.rstrip("/").rpartition("/")
        return os.path.join(self._real(parent), name)

    # -- metadata ------------------------------------------------------------------

    def getattr(self, path: str, fh: int | None = None) -> dict[str, Any]:
        try:
            st = os.fstat(fh) if fh is not None else os.lstat(self._real(path))
        except OSError as exc:
            raise mfusepy.FuseOSError(exc.errno) from None
        keys = ("st_mode", "st_ino", "st_nlink", "st_uid", "st_gid", "st_size")
        attrs: dict[str, Any] = {key: getattr(st, key) for key in keys}
        attrs.update(st_atime=st.st_atime_ns, st_mtime=st.st_mtime_ns, st_ctime=st.st_ctime_ns)
        return attrs

    def readdir(self, path: str, fh: int) -> list[tuple[str, dict[str, int], int]]:
        real = self._real(path)
        names = [".", "..", *os.listdir(real)]
        found = []
        for name in names:
            st = os.lstat(os.path.join(real, name))
            found.append((name, {"st_mode": st.st_mode, "st_ino": st.st_ino}, 0))
        return found

    def chmod(self, path: str, mode: int) -> int:
        os.chmod(self._real(path), mode)
        return 0

    def chown(self, path: str, uid: int, gid: int) -> int:
        os.lchown(self._real(path), uid, gid)
        return 0

    def utimens(self, path: str, times: tuple[int, int] | None = None) -> int:
        if times is None:
            os.utime(self._real(path), follow_symlinks=False)
        else:
            os.utime(self._real(path), ns=times, follow_symlinks=False)
        return 0

    def readlink(self, path: str) -> str:
        return os.readlink(self._real(path))

    def statfs(self, path: str) -> dict[str, int]:
        st = os.statvfs(self.backing)
        keys = ("f_bavail", "f_bfree", "f_blocks", "f_bsize", "f_favail", "f_ffree",
                "f_files", "f_flag", "f_frsize", "f_namemax")  # fmt: skip
        return {key: getattr(st, key) for key in keys}

    # -- names ---------------------------------------------------------------------

    def mkdir(self, path: str, mode: int) -> int:
        if os.path.lexists(self._real(path)):
            raise mfusepy.FuseOSError(errno.EEXIST)
        os.mkdir(self._new(path), mode)
        return 0

    def rmdir(self, path: str) -> int:
        os.rmdir(self._real(path))
        return 0

    def unlink(self, path: str) -> int:
        os.unlink(self._real(path))
        return 0

    def symlink(self, target: str, source: str) -> int:
        os.symlink(source, self._new(target))
        return 0

    def rename(self, old: str, new: str) -> int:
        source, target = self._real(old), self._real(new)
        if os.path.lexists(target) and not os.path.samefile(source, target):
            os.replace(source, target)  # over another file: it keeps its spelling
            source = target
        os.rename(source, self._new(new))  # a case-only rename changes the spelling
        return 0

    # -- contents ------------------------------------------------------------------

    def create(self, path: str, mode: int, fi: Any = None) -> int:
        real = self._real(path)
        if not os.path.lexists(real):
            real = self._new(path)
        return os.open(real, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)

    def open(self, path: str, flags: int) -> int:
        return os.open(self._real(path), flags)

    def read(self, path: str, size: int, offset: int, fh: int) -> bytes:
        return os.pread(fh, size, offset)

    def write(self, path: str, data: bytes, offset: int, fh: int) -> int:
        return os.pwrite(fh, data, offset)

    def truncate(self, path: str, length: int, fh: int | None = None) -> int:
        if fh is not None:
            os.ftruncate(fh, length)
        else:
            os.truncate(self._real(path), length)
        return 0

    def flush(self, path: str, fh: int) -> int:
        return 0

    def fsync(self, path: str, datasync: int, fh: int) -> int:
        (os.fdatasync if datasync else os.fsync)(fh)
        return 0

    def release(self, path: str, fh: int) -> int:
        os.close(fh)
        return 0


def main(backing: str, mountpoint: str) -> None:
    mfusepy.FUSE(CaseFolding(backing), mountpoint, foreground=True, nothreads=True,
                 use_ino=True, attr_timeout=0, entry_timeout=0, negative_timeout=0)  # fmt: skip


if __name__ == "__main__":
    main(*sys.argv[1:])
