"""``p2psync history --deleted [SHARE]`` and ``p2psync restore DIR --at TIME``
(docs/history.md): a share's deleted files and folders, and a folder brought back as
it was at a time. Both ask the running daemon, which keeps the history.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import TYPE_CHECKING

from p2psync.cli import human, table
from p2psync.cli.context import Context, print_json
from p2psync.cli.when import parse_when
from p2psync.errors import InvalidIdError, UnsafePathError, UsageError
from p2psync.ids import ShareId
from p2psync.mirror.paths import share_path

if TYPE_CHECKING:
    from p2psync.config import ShareConfig
    from p2psync.control.replies import HistoryDeletedReply, RestoreAtReply


def run_deleted(args: argparse.Namespace, ctx: Context) -> int:
    """List deleted files and folders: of one share, of the folder given, or of all."""
    now = time.time()
    if args.path is None:
        chosen = [(share, "") for share in ctx.config().shares]
    else:
        chosen = [share_or_folder(ctx, args.path)]
    replies: list[HistoryDeletedReply] = []
    for share, folder in chosen:
        reply: HistoryDeletedReply = ctx.call("history.deleted", share=str(share.id))
        if folder:
            _refuse_no_folder(args.path, share, folder, reply)
        reply["files"] = [f for f in reply["files"] if _under(f["path"], folder)]
        reply["folders"] = [f for f in reply["folders"] if _under(f["path"], folder, True)]
        replies.append(reply)
    if args.json:
        print_json(replies)
        return 0
    for share, _ in chosen:
        reply = next(r for r in replies if r["share"] == str(share.id))
        if len(chosen) > 1:
            print(f"{share.path} ({share.id})")
        print(format_deleted(reply, now))
    return 0


def _under(path: str, folder: str, strictly: bool = False) -> bool:
    if not folder:
        return True
    return path.startswith(folder + "/") or (path == folder and not strictly)


def _refuse_no_folder(
    given: str, share: ShareConfig, folder: str, reply: HistoryDeletedReply
) -> None:
    """Refuse a ``--deleted`` argument that names no folder of the share: a file
    (on disk, or deleted: its versions are ``history PATH``'s), or a path that is
    neither a folder now nor one that held deleted files."""
    on_disk = Path(given).expanduser()
    deleted = [f["path"] for f in reply["files"]]
    if folder in deleted or (on_disk.exists() and not on_disk.is_dir()):
        raise UsageError(
            f"{given} is a file, not a folder: history --deleted takes a share (its ID "
            f"or folder) or a folder in one (the file's versions: p2psync history {given})"
        )
    if not on_disk.is_dir() and not any(_under(path, folder, True) for path in deleted):
        raise UsageError(
            f"{given} is not a folder of share {share.id}: none is there, and no deleted "
            "file was in one there (history --deleted takes a share or a folder in one)"
        )


def share_or_folder(ctx: Context, given: str) -> tuple[ShareConfig, str]:
    """The share a SHARE argument names (its ID, its folder or a folder inside it),
    and the folder inside it ("" for the whole share)."""
    shares = ctx.config().shares
    try:
        share_id = ShareId.parse(given)
    except (InvalidIdError, ValueError):
        share_id = None
    for share in shares:
        if share.id == share_id:
            return share, ""
    return locate_dir(ctx, given)


def locate_dir(ctx: Context, given: str) -> tuple[ShareConfig, str]:
    """The share holding folder ``given`` (or whose folder it is) and its share path."""
    path = Path(given).expanduser().resolve()
    for share in ctx.config().shares:
        root = share.path.resolve()
        if path == root:
            return share, ""
        if path.is_relative_to(root):
            folder = path.relative_to(root).as_posix()
            try:  # the share's own .p2psync folder holds no file of the share
                return share, share_path(folder)
            except UnsafePathError as exc:
                raise UsageError(
                    f"{given} is not a folder of share {share.id}: {exc.reason}"
                ) from None
    raise UsageError(f"{given} is neither a share ID nor inside a shared folder")


def format_deleted(reply: HistoryDeletedReply, now: float) -> str:
    """The human form: deleted folders, then deleted files, latest deletion first."""
    if not reply["files"]:
        return "No deleted files."
    parts = []
    if reply["folders"]:
        rows = [[human.name(f["path"]) + "/", human.ago(f["deleted"], now) if f["deleted"] else "?",
                 _device(f["device"]), str(f["files"])] for f in reply["folders"]]  # fmt: skip
        parts.append(table.render(["FOLDER", "DELETED", "BY", "FILES"], rows, right=[3]))
    rows = []
    for f in reply["files"]:
        last = f["last_version"]
        rows.append([human.name(f["path"]), human.ago(f["deleted"], now) if f["deleted"] else "?",
                     _device(f["device"]), str(last["number"]) if last else "-",
                     human.size(last["size"]) if last else "-"])  # fmt: skip
    parts.append(
        table.render(["FILE", "DELETED", "BY", "LAST VERSION", "SIZE"], rows, right=[3, 4])
    )
    return "\n\n".join(parts)


def _device(device: str | None) -> str:
    return device.split("-")[0] if device else "?"


def run_restore_at(args: argparse.Namespace, ctx: Context) -> int:
    """Restore every text and binary file under DIR (or the one file DIR names) to its
    version at TIME."""
    when = parse_when(args.at, time.time())
    share, folder = locate_dir(ctx, args.path)  # a file's path: that file alone
    reply: RestoreAtReply = ctx.call("restore.at", share=str(share.id), dir=folder, time=when)
    if args.json:
        print_json(reply)
        return 0
    counts = {"restored": 0, "unchanged": 0, "left": 0}
    for row in reply["files"]:
        counts[row["result"]] += 1
        if row["result"] == "restored":
            print(f"restored {row['path']} (version {row['version']})")
        elif row["result"] == "left":
            print(f"left {row['path']}: {row['reason']}")
    print(f"{counts['restored']} restored (new edits, synced to peers), "
          f"{counts['unchanged']} already as then, {counts['left']} left as they are")  # fmt: skip
    return 0
