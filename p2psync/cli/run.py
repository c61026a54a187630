"""``p2psync run``: the daemon in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import logging
import signal

import trio

from p2psync.cli.context import Context
from p2psync.daemon.daemon import Daemon

LOG_LEVELS = ("debug", "info", "warning", "error")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("run", help="run the daemon in the foreground")
    parser.add_argument("--listen", metavar="HOST:PORT", help="address to accept peers on")
    parser.add_argument("--no-mdns", action="store_true", help="do not use LAN discovery")
    parser.add_argument(
        "--log-level", choices=LOG_LEVELS, default="info",
        help="how much the daemon logs (debug: every link and sync decision)",
    )  # fmt: skip
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    level = getattr(logging, args.log_level.upper())
    # Other libraries' debug output (zeroconf, watchdog) is noise here: ours only.
    logging.basicConfig(
        level=max(level, logging.INFO), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("p2psync").setLevel(level)
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
