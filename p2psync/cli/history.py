"""``p2psync history PATH`` and ``p2psync restore PATH --version N`` (docs/history.md).

A text file's versions, newest first (``--json``: the daemon's ``history`` reply);
``--diff N``: a unified diff from version N to the current text. ``restore`` brings
the file back to version N as a new edit, which merges with concurrent edits made
elsewhere and syncs to every peer; ``--to OUT`` writes version N to OUT instead and
changes nothing in the share. Both ask the running daemon, which keeps the history.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from p2psync.cli import human, table
from p2psync.cli.context import Context, print_json
from p2psync.cli.kept import refuse_kept
from p2psync.control.client import ControlClient
from p2psync.errors import StorageError, UsageError

if TYPE_CHECKING:
    from p2psync.config import ShareConfig
    from p2psync.control.replies import (
        HistoryDiffReply,
        HistoryReply,
        RestoreReply,
        VersionRow,
    )

KIND_WORDS = {
    "local save": "saved here",
    "remote change": "changed by a peer",
    "delete": "deleted",
}


def _what(version: VersionRow) -> str:
    """The WHAT column: the kind in words, and a rename's old path."""
    words = KIND_WORDS.get(version["kind"], version["kind"])
    old = version.get("old_path")
    return f"renamed from {old}" if old else words


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    history = commands.add_parser("history", help="a text file's past versions, newest first")
    history.add_argument(
        "path", nargs="?", help="a text file inside a shared folder (with --deleted: SHARE)"
    )
    shown = history.add_mutually_exclusive_group()
    shown.add_argument(
        "--diff", type=_version, metavar="VERSION", help="the changes from VERSION to now"
    )
    shown.add_argument(
        "--deleted", action="store_true", help="deleted files and folders (of SHARE, or all)"
    )
    history.add_argument("--json", action="store_true", help="print JSON")
    history.set_defaults(func=run_history)
    restore = commands.add_parser("restore", help="bring a text file back to a past version")
    restore.add_argument(
        "path", help="a text file (with --at: a folder, or a file) inside a shared folder"
    )
    when = restore.add_mutually_exclusive_group(required=True)
    when.add_argument("--version", type=_version, help="the version number")
    when.add_argument(
        "--at",
        metavar="TIME",
        help="the file, or every file under the folder, as it was at TIME (app docs are left)",
    )
    restore.add_argument(
        "--to",
        metavar="OUT",
        help="write that version to OUT (-: standard output) and change nothing in the share",
    )
    restore.add_argument("--json", action="store_true", help="print JSON")
    restore.set_defaults(func=run_restore)


def _version(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a version number (1, 2, ...)")
    return number


def run_history(args: argparse.Namespace, ctx: Context) -> int:
    if args.deleted:
        from p2psync.cli.deleted import run_deleted  # noqa: PLC0415 - one lazy module

        return run_deleted(args, ctx)
    if args.path is None:
        raise UsageError("history needs a file (or --deleted)")
    share, rel = locate(ctx, args.path)
    if args.diff is not None:
        diff: HistoryDiffReply = ctx.call(
            "history.diff", share=str(share.id), doc=rel, version=args.diff
        )
        if args.json:
            print_json(diff)
        elif diff["diff"]:
            sys.stdout.write(diff["diff"])
        else:
            print(f"Version {args.diff} has the same text as {args.path} now.")
        return 0
    found: HistoryReply = ctx.call("history", share=str(share.id), doc=rel)
    if args.json:
        print_json(found)
    else:
        print(format_versions(found["versions"], time.time()))
    return 0


def run_restore(args: argparse.Namespace, ctx: Context) -> int:
    if args.at is not None:
        if args.to is not None:
            raise UsageError("--to writes one version of one file: use it with --version")
        from p2psync.cli.deleted import run_restore_at  # noqa: PLC0415 - one lazy module

        return run_restore_at(args, ctx)
    share, rel = locate(ctx, args.path)
    if args.to is not None:
        params = {"share": str(share.id), "doc": rel, "version": args.version, "stream": True}
        if args.to == "-":  # standard output, as the version's bytes come
            with ControlClient(ctx.home.socket_path) as client:
                client.call_streamed("history.text", _to_stdout, **params)
            sys.stdout.buffer.flush()
            return 0
        out = Path(args.to).expanduser()
        refuse_out(ctx, out, Path(args.path).expanduser())
        from p2psync.storage.fileops import atomic_writer  # noqa: PLC0415 - only to write

        try:  # OUT is replaced only once the whole text came
            with ControlClient(ctx.home.socket_path) as client, atomic_writer(out) as write:
                client.call_streamed("history.text", write, **params)
        except OSError as exc:
            raise StorageError(out, f"cannot write it: {exc.strerror or exc}") from None
        if not args.json:
            print(f"Version {args.version} of {args.path} written to {out}.")
        else:
            print_json({"written": str(out), "version": args.version})
        return 0
    reply: RestoreReply = ctx.call("restore", share=str(share.id), doc=rel, version=args.version)
    if args.json:
        print_json(reply)
    elif reply["changed"]:
        print(f"{args.path} is back to version {args.version} (a new edit, synced to peers).")
    else:
        print(f"{args.path} already holds the text of version {args.version}.")
    return 0


def _to_stdout(part: bytes) -> None:
    sys.stdout.buffer.write(part)


def refuse_out(ctx: Context, out: Path, file: Path) -> None:
    """Refuse an ``--to OUT`` that would overwrite what p2psync keeps rather than
    write a copy: the file itself (restore it in place instead), anything inside a
    ``.p2psync`` folder or this device's own files (``refuse_kept``)."""
    if out.resolve() == file.resolve():
        raise UsageError("--to names the file itself: leave --to out to restore it in place")
    refuse_kept(ctx, out)


def locate(ctx: Context, file: str) -> tuple[ShareConfig, str]:
    """The share holding ``file`` and its path there (POSIX, relative)."""
    path = Path(file).expanduser().resolve()
    for share in ctx.config().shares:
        root = share.path.resolve()
        if path == root:
            raise UsageError(
                f"{file} is the folder of share {share.id}, not a file in it: name a file "
                "(for the share's deleted files: history --deleted; for all of it as it "
                "was: restore FOLDER --at TIME)"
            )
        if path.is_relative_to(root):
            return share, path.relative_to(root).as_posix()
    raise UsageError(f"{file} is not inside a shared folder")


def _devices(version: VersionRow) -> str:
    """The short IDs of the devices that made ``version``, its first one's first."""
    return ", ".join(d.split("-")[0] for d in [version["device"], *version.get("others", [])])


def format_versions(versions: list[VersionRow], now: float) -> str:
    """The human form: one row per version, newest first."""
    if not versions:
        return "No versions yet."
    rows = [
        [str(v["number"]), human.ago(v["time"], now), _what(v),
         _devices(v), human.size(v["size"]), f"+{v['added']} -{v['removed']}"]
        for v in versions
    ]  # fmt: skip
    return table.render(
        ["VERSION", "WHEN", "WHAT", "DEVICE", "SIZE", "CHANGES"], rows, right=[0, 4]
    )
