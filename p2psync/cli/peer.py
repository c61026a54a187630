"""``p2psync peer add DEVICE_ID HOST:PORT`` and ``peer remove DEVICE_ID``: the static
addresses of a device; ``peer name DEVICE_ID NAME``: the name shown for it."""

from __future__ import annotations

import argparse

from p2psync.cli.context import Context
from p2psync.daemon.configedits import add_peer, name_peer, remove_peer


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    peer = commands.add_parser("peer", help="manage known peers")
    sub = peer.add_subparsers(dest="peer_command", required=True)
    add = sub.add_parser("add", help="dial a device at a static address")
    add.add_argument("device")
    add.add_argument("address", metavar="HOST:PORT")
    add.set_defaults(func=run_add)
    remove = sub.add_parser("remove", help="forget the static addresses of a device")
    remove.add_argument("device")
    remove.set_defaults(func=run_remove)
    name = sub.add_parser("name", help="the name this device shows for a device")
    name.add_argument("device")
    name.add_argument("name", metavar="NAME", help='"" forgets it')
    name.set_defaults(func=run_name)


def run_add(args: argparse.Namespace, ctx: Context) -> int:
    ctx.change_config("peer.add", {"device": args.device, "address": args.address}, add_peer)
    return 0


def run_remove(args: argparse.Namespace, ctx: Context) -> int:
    ctx.change_config("peer.remove", {"device": args.device}, remove_peer)
    return 0


def run_name(args: argparse.Namespace, ctx: Context) -> int:
    ctx.change_config("peer.name", {"device": args.device, "name": args.name}, name_peer)
    return 0
