"""How the share folder's filesystem compares file names: probed once, then applied.

On ext4 ``README.md`` and ``readme.md`` are two files. On APFS, HFS+, NTFS, FAT and
ext4 with casefold they are one file, and on APFS and HFS+ so are the NFC and NFD
spellings of ``é.md``. The manifest is the same on every device, so a
case-insensitive device must map it onto its folder without letting two entries
overwrite one file, and must tell a case-only rename (the inode stays, the name's
case changes) from a file that is merely there under another spelling.

``probe_names`` finds out by creating a file under ``.p2psync/tmp/`` and looking it up
under another spelling; ``NameRules`` answers, for the mirror, which paths collide
(``key``), which disk paths are one manifest path spelled alike (``spelling_key``) and
whether a path exists with exactly its name's spelling (``exists_as``). Blocking
(``probe_names``, ``exists_as``): run them in a worker thread or where blocking is
already accepted.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from p2psync.mirror.paths import case_key

Listings = dict[str, set[str]]
"""Folder (share path, ``""`` for the top) -> the ``name_key`` of each name in it."""


@dataclass(frozen=True, slots=True)
class NameRules:
    """How names compare on one filesystem; the default is ext4's (bytes compare)."""

    fold_case: bool = False
    """``A.md`` and ``a.md`` are one file."""
    fold_unicode: bool = False
    """The NFC and NFD spellings of a name are one file."""

    @property
    def folds(self) -> bool:
        """Whether two different share paths can be one file here."""
        return self.fold_case or self.fold_unicode

    def key(self, rel: str) -> str:
        """The key under which share paths are one file here."""
        if self.fold_case:
            return case_key(rel)
        if self.fold_unicode:
            return unicodedata.normalize("NFC", rel)
        return rel

    def name_key(self, name: str) -> str:
        """A name as its spelling counts: its case is kept (a change of case is a
        rename), its normalisation only where the filesystem keeps it apart."""
        return unicodedata.normalize("NFC", name) if self.fold_unicode else name

    def spelling_key(self, rel: str) -> str:
        """Paths with one spelling key are one file, its name spelled alike: the
        folders are folded (a folder has one spelling on disk, whichever entry made
        it), the last name is not (``name_key``)."""
        parent, _, name = rel.rpartition("/")
        return f"{self.key(parent)}/{self.name_key(name)}" if parent else self.name_key(name)

    def exists_as(self, root: Path, rel: str, listings: Listings | None = None) -> bool:
        """Whether something is at ``rel`` under ``root`` with its name spelled as in
        ``rel`` (not merely another case of it). ``listings`` caches folder listings
        for a batch of calls; its owner keeps it true (``listed``) or drops it."""
        if not os.path.lexists(root / rel):
            return False
        if not self.folds:
            return True
        parent, _, name = rel.rpartition("/")
        names = listings.get(parent) if listings is not None else None
        if names is None:
            try:
                names = {self.name_key(p.name) for p in (root / parent).iterdir()}
            except OSError:
                return False
            if listings is not None:
                listings[parent] = names
        return self.name_key(name) in names

    def listed(self, listings: Listings, rel: str, *, present: bool) -> None:
        """Keep ``listings`` true after this process created (or removed) ``rel``."""
        parent, _, name = rel.rpartition("/")
        names = listings.get(parent)
        if names is not None:
            (names.add if present else names.discard)(self.name_key(name))

    def describe(self) -> str:
        """A few words for logs and status."""
        if self.fold_case:
            return "case-insensitive"
        return "normalisation-insensitive" if self.fold_unicode else "case-sensitive"


def _one_file(tmp: Path, made: str, other: str) -> bool:
    """Create ``made`` in ``tmp`` and report whether ``other`` names the same file."""
    path = tmp / made
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    os.close(fd)
    try:
        mine = os.lstat(path)
        try:
            seen = os.lstat(tmp / other)
        except FileNotFoundError:
            return False
        return (seen.st_dev, seen.st_ino) == (mine.st_dev, mine.st_ino)
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def probe_names(marker: Path) -> NameRules:
    """Probe the filesystem of the share whose ``.p2psync`` folder is ``marker``: a
    file is created under ``marker/tmp`` and looked up under another case, and one
    with an accented name under its other normalisation; both are removed. Raises
    OSError if the folder cannot be written."""
    tmp = marker / "tmp"
    tmp.mkdir(exist_ok=True)
    token = secrets.token_hex(6)
    fold_case = _one_file(tmp, f"Case-Probe-{token}", f"case-probe-{token}")
    nfc = unicodedata.normalize("NFC", f"probe-\u00e9-{token}")
    fold_unicode = _one_file(tmp, nfc, unicodedata.normalize("NFD", nfc))
    return NameRules(fold_case=fold_case, fold_unicode=fold_unicode)
