"""``p2psync peer add DEVICE_ID HOST:PORT``: a static address for a device."""

from __future__ import annotations

import argparse

from p2psync.cli.context import Context
from p2psync.daemon.configedits import add_peer


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    peer = commands.add_parser("peer", help="manage known peers")
    sub = peer.add_subparsers(dest="peer_command", required=True)
    add = sub.add_parser("add", help="dial a device at a static address")
    add.add_argument("device")
    add.add_argument("address", metavar="HOST:PORT")
    add.set_defaults(func=run_add)


def run_add(args: argparse.Namespace, ctx: Context) -> int:
    ctx.change_config("peer.add", {"device": args.device, "address": args.address}, add_peer)
    return 0
