"""``p2psync run``: the daemon in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import os
import signal

import trio

from p2psync.cli.context import Context
from p2psync.daemon.daemon import Daemon


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("run", help="run the daemon in the foreground")
    parser.add_argument("--listen", metavar="HOST:PORT", help="address to accept peers on")
    parser.add_argument("--no-mdns", action="store_true", help="do not use LAN discovery")
    parser.set_defaults(func=run)


DEBUG_ENV = "P2PSYNC_DEBUG"
"""Set (to anything but ``0``) in the daemon's environment: p2psync's own DEBUG lines
are logged too (link tie-breaks, sync starts and restarts; docs/troubleshooting.md)."""


def run(args: argparse.Namespace, ctx: Context) -> int:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    if os.environ.get(DEBUG_ENV, "0") not in ("", "0"):
        logging.getLogger("p2psync").setLevel(logging.DEBUG)
    daemon = Daemon(ctx.home, listen=args.listen, mdns=False if args.no_mdns else None)
    trio.run(_serve, daemon)
    return 0


async def _serve(daemon: Daemon) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            address = await nursery.start(daemon.run)
            print(f"p2psync {daemon.identity.device_id} listening on {address}", flush=True)
            async for signum in signals:
                logging.getLogger(__name__).info("%s: shutting down", signal.Signals(signum).name)
                for share in daemon.shares.values():
                    await share.aclose()
                nursery.cancel_scope.cancel()
                break
