"""The control API's ``history.files``, ``history.deleted`` and ``restore.at``
(docs/control-api.md): a share's files, its deleted files and folders, and a folder
brought back as it was at a time.
``ControlApi`` routes the two methods here; the work is ``daemon.filehistory``'s.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from p2psync.control.errorcodes import NotFoundError
from p2psync.control.replies import (
    HistoryDeletedReply,
    HistoryFile,
    HistoryFilesReply,
    RestoreAtReply,
)
from p2psync.daemon.filehistory import deleted_files, deleted_folders, plan_restore_at
from p2psync.daemon.registry import ShareRegistry
from p2psync.daemon.shares import ShareService
from p2psync.errors import ControlError, UnsafePathError, UsageError
from p2psync.mirror.manifest import ManifestView
from p2psync.mirror.paths import share_path


def _share(registry: ShareRegistry, params: dict[str, Any]) -> tuple[ShareService, ManifestView]:
    share = registry.share(params)
    if share.mirror is None:
        raise UsageError(f"share {share.name} mirrors no folder: it has no files")
    return share, share.mirror.mirror.view


async def history_files(registry: ShareRegistry, params: dict[str, Any]) -> HistoryFilesReply:
    """The files of ``share`` (the manifest's live entries), by path."""
    share, view = _share(registry, params)
    files: list[HistoryFile] = [
        {"path": path, "kind": entry.kind.value} for path, entry in sorted(view.by_path.items())
    ]
    return {"share": share.name, "files": files}


async def history_deleted(registry: ShareRegistry, params: dict[str, Any]) -> HistoryDeletedReply:
    """The deleted files and folders of ``share``."""
    share, view = _share(registry, params)
    files = await deleted_files(share.history, view)
    return {"share": share.name, "files": files, "folders": deleted_folders(files, view)}


async def restore_at(
    registry: ShareRegistry, flush: Callable[[], None], params: dict[str, Any]
) -> RestoreAtReply:
    """Every text and binary file under ``dir`` (a share path, "" for the whole
    share; a file's: that file alone) as it was at ``time`` (Unix seconds), each as
    a new edit or save; deleted files come back; app docs are left. ``flush`` asks
    for the changes to be sent to the peers now."""
    share, view = _share(registry, params)
    when = params.get("time")
    if not isinstance(when, int | float) or isinstance(when, bool) or not math.isfinite(when):
        raise ControlError("time must be a number of seconds since the epoch", "bad-request")
    if when > time.time():
        raise UsageError(f"time {when} is in the future: nothing to restore from there")
    folder = str(params.get("dir", ""))
    if folder:
        try:
            folder = share_path(folder)
        except UnsafePathError as exc:  # a bad argument (a usage error), as a bad ``doc`` is
            raise UsageError(
                f"{folder!r} is not a folder of share {share.name}: {exc.reason}"
            ) from None
    plan = await plan_restore_at(share.history, view, folder, float(when), share.root)
    if not plan.rows:
        raise NotFoundError(f"share {share.name} has no file at or under {folder or '/'}")
    changed = await share.history.restore_versions(plan.numbers)
    if any(changed.values()):
        flush()
    for guid, was_changed in changed.items():
        row = plan.rows[guid]
        if was_changed:
            share.events.publish("file-restored", share=share.name, path=row["path"],
                                 version=row["version"])  # fmt: skip
        else:
            row["result"] = "unchanged"
    return {"time": float(when), "files": list(plan.rows.values())}
