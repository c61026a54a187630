"""``p2psync name NEW_NAME``: rename this device (the name its peers see)."""

from __future__ import annotations

import argparse

from p2psync.cli.context import Context
from p2psync.daemon.configedits import rename_device


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("name", help="rename this device (the name peers see)")
    parser.add_argument("name", metavar="NEW_NAME")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.change_config("name", {"name": args.name}, rename_device)
    return 0
