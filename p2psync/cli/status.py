"""``p2psync status``, ``p2psync peers`` and ``p2psync wait-idle``."""

from __future__ import annotations

import argparse
import time

from p2psync.cli.context import Context, print_json
from p2psync.daemon.client import ControlClient

WAIT_POLL_S = 0.05


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = commands.add_parser("status", help="state of this device and its shares")
    status.add_argument("--json", action="store_true")
    status.set_defaults(func=run_status)
    peers = commands.add_parser("peers", help="known, connected and pending devices")
    peers.add_argument("--json", action="store_true")
    peers.set_defaults(func=run_peers)
    wait = commands.add_parser("wait-idle", help="wait until every connected member is in sync")
    wait.add_argument("--timeout", type=float, default=60.0, metavar="S")
    wait.add_argument("--min-peers", type=int, default=0, help="also wait for this many peers")
    wait.set_defaults(func=run_wait_idle)


def run_status(args: argparse.Namespace, ctx: Context) -> int:
    status = ctx.call("status")
    if args.json:
        print_json(status)
        return 0
    print(f"device   {status['device_id']}  ({status['name']})")
    print(f"listen   {status['listen']}")
    print(f"peers    {len(status['connected'])} connected, {len(status['pending'])} pending")
    for share in status["shares"]:
        synced = len(share["peers_in_sync"])
        connected = len(share["peers_connected"])
        print(f"share    {share['id']}  {share['path']}  {share['docs']} docs, "
              f"{synced}/{connected} peers in sync")  # fmt: skip
    return 0


def run_peers(args: argparse.Namespace, ctx: Context) -> int:
    result = ctx.call("peers")
    if args.json:
        print_json(result)
        return 0
    for peer in result["peers"]:
        state = "connected" if peer["connected"] else "offline"
        sync = "in sync" if peer["in_sync"] else "syncing" if peer["connected"] else ""
        name, address = peer["name"] or "-", peer["address"] or "-"
        print(f"{peer['device_id']}  {name:12}  {address:21}  {state}  {sync}")
    for peer in result["pending"]:
        print(f"{peer['device_id']}  {peer['name'] or '-':12}  {peer['address']:21}  pending")
    return 0


def run_wait_idle(args: argparse.Namespace, ctx: Context) -> int:
    deadline = time.monotonic() + args.timeout
    with ControlClient(ctx.home.socket_path) as client:
        while True:
            state = client.call("idle")
            if state["idle"] and state["connected"] >= args.min_peers:
                return 0
            if time.monotonic() > deadline:
                print(f"not in sync after {args.timeout:g} s")
                return 1
            time.sleep(WAIT_POLL_S)
