"""``p2psync pause [SHARE]`` and ``p2psync resume [SHARE]``: stop and restart syncing.

While the device is paused the daemon closes its peer connections and refuses new
ones; a paused share is left out of every connection. Local changes are kept and go
out after ``resume`` (docs/control-api.md). Needs a daemon.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from p2psync.cli.context import Context, print_json
from p2psync.ids import ShareId

if TYPE_CHECKING:
    from p2psync.control.replies import PauseReply


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pause = commands.add_parser("pause", help="stop syncing (everything, or one share)")
    pause.add_argument("share", nargs="?", help="only this share")
    pause.add_argument("--json", action="store_true")
    pause.set_defaults(func=run, method="pause")
    resume = commands.add_parser("resume", help="sync again after pause")
    resume.add_argument("share", nargs="?", help="only this share")
    resume.add_argument("--json", action="store_true")
    resume.set_defaults(func=run, method="resume")


def run(args: argparse.Namespace, ctx: Context) -> int:
    params = {"share": str(ShareId.parse(args.share))} if args.share else {}
    result: PauseReply = ctx.call(args.method, **params)
    if args.json:
        print_json(result)
        return 0
    what = f"share {args.share}" if args.share else "all sync traffic"
    again = f"'p2psync resume{' ' + args.share if args.share else ''}'"
    print(f"paused {what} until {again}" if result["paused"] else f"resumed {what}")
    if not args.share and not result["paused"]:
        still = [share["id"] for share in ctx.call("status")["shares"] if share.get("paused")]
        if still:  # paused one by one: each stays paused until resumed by name
            print(f"still paused: share {', '.join(still)} (until 'p2psync resume SHARE')")
    return 0
