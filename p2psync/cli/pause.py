"""``p2psync pause`` and ``p2psync resume``: stop and restart all sync traffic.

While paused the daemon closes its peer connections and refuses new ones; local
changes are kept and go out after ``resume`` (docs/control-api.md). Needs a daemon.
"""

from __future__ import annotations

import argparse

from p2psync.cli.context import Context, print_json


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    pause = commands.add_parser("pause", help="stop syncing with every peer until resume")
    pause.add_argument("--json", action="store_true")
    pause.set_defaults(func=run, method="pause")
    resume = commands.add_parser("resume", help="sync again after pause")
    resume.add_argument("--json", action="store_true")
    resume.set_defaults(func=run, method="resume")


def run(args: argparse.Namespace, ctx: Context) -> int:
    result = ctx.call(args.method)
    if args.json:
        print_json(result)
    else:
        print("paused: no sync traffic until 'p2psync resume'" if result["paused"] else "resumed")
    return 0
