"""Copies of versions that lost, kept under ``.p2psync/conflicts/`` with names people read.

A copy keeps the file's folder and name, with what happened and when in between and
the extension last, so it opens with the same program::

    notes.conflict-20261205-031200-local-U7PSEDM.md

``<why>``: ``local`` (a save that could not be merged, kept whole), ``overwritten``
(what a save overwrote just after the daemon wrote the file), ``lost`` (a binary
file's concurrent version that lost), ``collision`` (a path two devices created at
once: the version that lost). ``<device>``: the short ID of the device whose version it
is. A copy kept up to date with a doc (a name only another spelling of holds here,
on a case-insensitive folder) has no date: ``notes.conflict-case-1a2b3c4d.md``.
Copies are never overwritten (a second one gets ``-2``, ``-3``...), never synced, and
never deleted by p2psync. ``list_copies`` reads the names back for ``p2psync conflicts``.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from p2psync.storage.layout import marker_dir

CONFLICTS_DIR = "conflicts"
NAME_MAX_BYTES = 255
_MARK = ".conflict-"
_COPY = re.compile(
    r"^(?P<stem>.*?)\.conflict-(?:(?P<date>\d{8}-\d{6})-)?(?P<why>[a-z]+)-(?P<tag>[A-Za-z0-9]+)"
    r"(?:-(?P<n>\d+))?(?P<ext>\.[^./]*)?$"
)


@dataclass(frozen=True, slots=True)
class KeptCopy:
    """A kept copy as ``list_copies`` reads it back from its name."""

    copy: str
    """Its path under ``.p2psync/conflicts/``."""
    path: str
    """The share path of the file it is a version of ("" for a name not of this form)."""
    why: str
    when: float | None
    device: str
    size: int


def _safe(word: str) -> str:
    return re.sub(r"[^A-Za-z0-9]", "", word)[:16] or "unknown"


def copy_name(rel: str, why: str, device: str, when: float | None) -> str:
    """The name of a copy of share path ``rel`` under the conflicts folder (its folder
    kept): ``<stem>.conflict-[<YYYYMMDD-HHMMSS>-]<why>-<device><ext>``, local time,
    the stem shortened where the name would pass ``NAME_MAX_BYTES``."""
    path = PurePosixPath(rel)
    ext = path.suffix if 1 < len(path.suffix) <= 16 and path.stem else ""
    stem = path.name[: len(path.name) - len(ext)] if ext else path.name
    date = time.strftime("%Y%m%d-%H%M%S-", time.localtime(when)) if when is not None else ""
    tail = f"{_MARK}{date}{_safe(why)}-{_safe(device)}{ext}"
    room = NAME_MAX_BYTES - len(tail.encode()) - 8  # 8: room for a "-N" of a later copy
    stem = stem.encode()[:room].decode(errors="ignore")
    return str(path.with_name(stem + tail))


def keep_copy(
    root: Path, rel: str, why: str, data: bytes, *, device: str, refresh: bool = False
) -> Path:
    """Keep ``data`` (a version of ``rel`` that lost) under ``.p2psync/conflicts/``,
    named by ``copy_name`` (dated now unless ``refresh``); a copy with other bytes
    already there is never overwritten (``-2``, ``-3``... are used), unless
    ``refresh``: a copy kept up to date with a doc. Returns where."""
    name = copy_name(rel, why, device, None if refresh else time.time())
    first = marker_dir(root) / CONFLICTS_DIR / name
    first.parent.mkdir(parents=True, exist_ok=True)
    target, n = first, 1
    while not refresh and target.exists() and target.read_bytes() != data:
        n += 1
        stem = first.name[: len(first.name) - len(first.suffix)] if first.suffix else first.name
        target = first.with_name(f"{stem}-{n}{first.suffix}")
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(target)
    return target


def list_copies(root: Path) -> list[KeptCopy]:
    """Every copy kept in the share folder ``root``, oldest first (undated last)."""
    folder = marker_dir(root) / CONFLICTS_DIR
    if not folder.is_dir():
        return []
    found = []
    for file in folder.rglob("*"):
        if not file.is_file() or file.name.endswith(".tmp"):
            continue
        rel = file.relative_to(folder).as_posix()
        size = file.stat().st_size
        match = _COPY.match(file.name)
        if match is None:  # a copy from before these names: its path is its name
            found.append(KeptCopy(rel, "", "unknown", None, "", size))
            continue
        original = PurePosixPath(rel).with_name(match["stem"] + (match["ext"] or ""))
        when = time.mktime(time.strptime(match["date"], "%Y%m%d-%H%M%S")) if match["date"] else None
        found.append(KeptCopy(rel, str(original), match["why"], when, match["tag"], size))
    return sorted(found, key=lambda c: (c.when is None, c.when or 0.0, c.copy))
