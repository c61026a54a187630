"""``p2psync id``: print this device's ID, creating the identity on first use."""

from __future__ import annotations

import argparse

from p2psync.cli.context import Context
from p2psync.net.identity import load_or_create_identity


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("id", help="print this device's ID")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    ctx.home.ensure()
    print(load_or_create_identity(ctx.home.identity_dir).device_id)
    return 0
