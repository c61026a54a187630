"""A share's file history beyond one file (docs/history.md): deletions recorded as
versions, the deleted files and folders listed, a folder restored as it was at a time.

``record_deletions`` is what the mirror service tells (``daemon.deletions``): each
text file a step deleted gets a ``delete`` version by the device whose change it was,
one brought back with the text it had a ``restore``, and one moved a ``rename``.
``deleted_files`` reads the manifest's deleted entries and their timelines without
loading their docs. ``plan_restore_at`` picks, for each text or binary file under a
folder, the version it had at a time; ``ShareHistory.restore_versions`` carries the
plan out.
"""

from __future__ import annotations

import logging
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import trio

from p2psync.control.replies import DeletedFile, DeletedFolder, RestoredFile, VersionRow
from p2psync.daemon.deletions import Deletions
from p2psync.errors import P2PSyncError, StorageError
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import Entry, ManifestView
from p2psync.storage.timeline import Version

log = logging.getLogger(__name__)


class VersionStore(Protocol):
    """What the file history needs of a share (``ShareHistory``): its files' stored
    timelines, and a version marked in one."""

    @property
    def name(self) -> str: ...

    @property
    def device_id(self) -> str: ...

    async def stored_versions(self, guid: str) -> list[Version]: ...

    def file_changed(self, guid: str, kind: str, device: str) -> bool: ...

    async def first_version(self, guid: str, device: str) -> None: ...

    async def mark_version(self, guid: str, kind: str, device: str, old_path: str = "") -> None: ...


def version_row(version: Version) -> VersionRow:
    """The control API's form of a version."""
    row: VersionRow = {"number": version.number, "time": version.time,
                       "device": version.device, "kind": version.kind, "size": version.size,
                       "added": version.added, "removed": version.removed}  # fmt: skip
    if version.old_path:
        row["old_path"] = version.old_path
    if version.others:
        row["others"] = list(version.others)
    return row


MARKS_AT_ONCE = 16
"""Deletions recorded at once (each writes its file's timeline, in its writer's thread):
a folder of 1,000 files deleted is not 1,000 fsyncs one after another."""


async def record_deletions(service: VersionStore, found: Deletions, peer: Hashable | None) -> None:
    """Record ``found`` in the files' timelines, by ``peer`` (None: this device). A
    failure is logged: the deletion itself happened, only its version is missing."""
    device = str(peer) if peer is not None else service.device_id
    marks = [(e, "delete", "") for e in found.deleted]
    marks += [(e, "restore", "") for e in found.revived]
    marks += [(e, "rename", old) for e, old in found.renamed]
    limit = trio.CapacityLimiter(MARKS_AT_ONCE)

    async def mark(entry: Entry, kind: str, old_path: str) -> None:
        async with limit:
            try:
                await service.mark_version(entry.guid, kind, device, old_path)
            except (P2PSyncError, OSError) as exc:
                log.error("share %s: the %s of %s is not in its history: %s", service.name,
                          kind, entry.path, exc)  # fmt: skip

    async def first(entry: Entry) -> None:
        async with limit:
            try:
                await service.first_version(entry.guid, device)
            except (P2PSyncError, OSError) as exc:
                log.error("share %s: the first version of %s is not in its history: %s",
                          service.name, entry.path, exc)  # fmt: skip

    revived = {entry.guid for entry in found.revived}  # their ``restore`` is their version
    async with trio.open_nursery() as nursery:
        for entry in found.appeared:
            if entry.kind is FileKind.CHUNKED and entry.guid not in revived:
                service.file_changed(entry.guid, "local save" if peer is None
                                     else "remote change", device)  # fmt: skip
            elif not entry.kind.textual:  # a binary file, an app doc
                nursery.start_soon(first, entry)
        for entry, kind, old_path in marks:
            nursery.start_soon(mark, entry, kind, old_path)


def deleted_entries(view: ManifestView) -> list[Entry]:
    """The deleted files of ``view`` a user would look for: per path the latest
    deleted entry, when no live file holds the path (not those that lost it)."""
    latest: dict[str, Entry] = {}
    for entry in view.by_guid.values():
        if not entry.deleted or entry.superseded_by or entry.path in view.by_path:
            continue
        if entry.path not in latest or entry.order > latest[entry.path].order:
            latest[entry.path] = entry
    return list(latest.values())


async def readable_versions(service: VersionStore, entry: Entry) -> tuple[list[Version], str]:
    """The stored timeline of ``entry``'s text file, or none and why: a damaged
    timeline file is that file's problem, logged, never the whole listing's."""
    try:
        return await service.stored_versions(entry.guid), ""
    except StorageError as exc:
        log.warning("share %s: the history of %s cannot be read: %s", service.name,
                    entry.path, exc)  # fmt: skip
        return [], "its history cannot be read: " + str(exc).removeprefix(f"{exc.path}: ")


async def deleted_files(service: VersionStore, view: ManifestView) -> list[DeletedFile]:
    """The share's deleted files, the latest deletion first (unknown times last); a
    file whose timeline cannot be read is listed with its deletion unknown."""
    rows: list[DeletedFile] = []
    for entry in deleted_entries(view):
        versions = (await readable_versions(service, entry))[0]
        deletion = versions[-1] if versions and versions[-1].kind == "delete" else None
        text = [v for v in versions if v.kind != "delete"]
        rows.append({
            "path": entry.path,
            "kind": entry.kind.value,
            "deleted": deletion.time if deletion else None,
            "device": deletion.device if deletion else None,
            "last_version": version_row(text[-1]) if text else None,
        })  # fmt: skip
    rows.sort(key=lambda r: (r["deleted"] is None, -(r["deleted"] or 0), r["path"]))
    return rows


def deleted_folders(files: list[DeletedFile], view: ManifestView) -> list[DeletedFolder]:
    """The topmost folders that hold deleted files and no live one."""
    live = {parent for path in view.by_path for parent in _parents(path)}
    gone: dict[str, list[DeletedFile]] = {}
    for row in files:
        for parent in _parents(row["path"]):
            if parent not in live:
                gone.setdefault(parent, []).append(row)
    folders: list[DeletedFolder] = []
    for path, rows in sorted(gone.items()):
        if any(parent in gone for parent in _parents(path)):
            continue  # inside a deleted folder listed already
        known = [r for r in rows if r["deleted"] is not None]
        latest = max(known, key=lambda r: r["deleted"] or 0) if known else None
        folders.append({"path": path, "files": len(rows),
                        "deleted": latest["deleted"] if latest else None,
                        "device": latest["device"] if latest else None})  # fmt: skip
    folders.sort(key=lambda f: (f["deleted"] is None, -(f["deleted"] or 0), f["path"]))
    return folders


class LivePaths:
    """The live files of a view and the folders that hold them: where a deleted file
    can come back (``taken``)."""

    def __init__(self, view: ManifestView) -> None:
        self._files = view.by_path
        self._folders = {parent for path in view.by_path for parent in _parents(path)}

    def taken(self, path: str, root: Path | None = None) -> str:
        """Why a deleted file cannot come back at ``path`` ("" if it can): another
        file holds the path or one of its folders, or the path is a folder of files.
        Brought back there, the manifest would hold a file and a folder of one name,
        which no device can write. With the share's ``root``: nor where a folder is
        on disk here (an empty one, or one of files not synced), which the file
        cannot be written over."""
        if path in self._files:
            return f"{path} is another file now"
        for parent in _parents(path):
            if parent in self._files:
                return f"{parent} is a file now, where {path} had its folder"
        if path in self._folders:
            return f"{path} is a folder of files now"
        if root is not None and (root / path).is_dir():
            return f"{path} is a folder now"
        return ""


def _parents(path: str) -> Iterable[str]:
    """``a/b/c.md`` -> ``a``, ``a/b``."""
    parts = path.split("/")[:-1]
    return ["/".join(parts[: i + 1]) for i in range(len(parts))]


@dataclass(frozen=True, slots=True)
class RestorePlan:
    """What ``restore DIR --at TIME`` does: doc -> version to restore, and a row per file."""

    numbers: dict[str, int]
    rows: dict[str, RestoredFile]
    """Doc guid -> its row; the rows of restored files say ``restored`` until done."""


def under(path: str, folder: str) -> bool:
    """Whether share path ``path`` is inside ``folder`` ("": the whole share)."""
    return not folder or path == folder or path.startswith(folder + "/")


async def plan_restore_at(
    service: VersionStore, view: ManifestView, folder: str, when: float, root: Path | None = None
) -> RestorePlan:
    """Each file under ``folder`` (deleted ones included) and the version it had at
    ``when``: the newest kept version no later; text files and binary files (their
    bytes then). A file with none then (created since), deleted then, deleted at an
    unknown time, or whose path another file holds now is left as it is, and so is
    an app doc (never restored in place)."""
    entries = [*view.by_path.values(), *deleted_entries(view)]
    live = LivePaths(view)
    numbers: dict[str, int] = {}
    rows: dict[str, RestoredFile] = {}
    for entry in sorted(entries, key=lambda e: e.path):
        if not under(entry.path, folder):
            continue
        versions, unreadable = await readable_versions(service, entry)
        then = [v for v in versions if v.time <= when]
        reason = unreadable or _left_because(entry, versions, then[-1] if then else None)
        if entry.deleted and not reason and (taken := live.taken(entry.path, root)):
            reason = taken + ": it cannot come back there"
        if entry.kind is FileKind.YDOC and not reason:
            reason = APP_DOC_LEFT
        number = then[-1].number if then and not reason else None
        result = "left" if reason else "restored"
        rows[entry.guid] = {"path": entry.path, "version": number, "result": result,
                            "reason": reason}  # fmt: skip
        if number is not None:
            numbers[entry.guid] = number
    return RestorePlan(numbers, rows)


APP_DOC_LEFT = "an app doc is not restored in place: write its version elsewhere with --to OUT"


def _left_because(entry: Entry, versions: list[Version], then: Version | None) -> str:
    """Why ``entry``'s file is not restored to ``then`` ("" if it is)."""
    if then is None:
        return "no version that old (created since, or its versions were dropped)"
    if then.kind == "delete":
        return "it was deleted then" if entry.deleted else "it was deleted then; left as it is"
    if entry.deleted and not any(v.kind == "delete" for v in versions if v.time >= then.time):
        return "deleted before its deletions were recorded: the time is unknown"
    return ""
