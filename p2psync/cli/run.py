"""``p2psync run``: the daemon in the foreground until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import faulthandler
import logging
import resource
import signal
import sys

import trio

from p2psync.cli.context import Context
from p2psync.daemon.daemon import Daemon
from p2psync.daemon.memtrim import limit_arenas
from p2psync.errors import P2PSyncError

LOG_LEVELS = ("debug", "info", "warning", "error")
STOP_GRACE_S = 20
"""How long the shares may take to stop in order (their own tasks, the calls in
flight, their writers' queues) before they are cancelled: a stop never hangs."""
STUCK_DUMP_S = STOP_GRACE_S + 5
"""A stop still running this long after the signal is stuck where cancelling cannot
reach (a blocking call on the event loop's thread): the stack of every thread is
written to stderr, so the log says where, before a supervisor's SIGKILL."""

log = logging.getLogger(__name__)


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
    limit_arenas()  # before any worker thread allocates (daemon.memtrim)
    _raise_file_limit()
    daemon = Daemon(ctx.home, listen=args.listen, mdns=False if args.no_mdns else None)
    try:
        trio.run(_serve, daemon)
    except BaseExceptionGroup as group:
        raise _sole_error(group) from None
    finally:
        faulthandler.cancel_dump_traceback_later()
    return 0


def _raise_file_limit() -> None:
    """Let the daemon open as many files as the system lets it: each loaded doc holds
    its log open, and a first sync of many files loads thousands at once, while the
    soft limit is often 1,024 below a hard one of hundreds of thousands (systemd's
    default for services). Nothing is done where the limit cannot be read or raised."""
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and soft < hard:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            log.debug("open files limit raised from %d to %d", soft, hard)
    except (OSError, ValueError) as exc:
        log.debug("open files limit left as it is: %s", exc)


def _sole_error(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The one p2psync error the daemon's nurseries wrapped in ``group`` (another daemon
    runs, the address is taken...), so it is printed as one sentence; the group itself
    when it holds anything else (a bug: its traceback is wanted)."""
    leaves: list[BaseException] = []
    pending: list[BaseException] = [group]
    while pending:
        exc = pending.pop()
        if isinstance(exc, BaseExceptionGroup):
            pending.extend(exc.exceptions)
        else:
            leaves.append(exc)
    if len(leaves) == 1 and isinstance(leaves[0], P2PSyncError):
        return leaves[0]
    return group


async def _serve(daemon: Daemon) -> None:
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            address = await nursery.start(daemon.run)
            print(f"p2psync {daemon.identity.device_id} listening on {address}", flush=True)
            async for signum in signals:
                log.info("%s: shutting down", signal.Signals(signum).name)
                faulthandler.dump_traceback_later(STUCK_DUMP_S, file=sys.stderr)
                with trio.move_on_after(STOP_GRACE_S) as grace:
                    for share in daemon.shares.values():
                        await share.aclose()
                if grace.cancelled_caught:
                    log.error("the shares did not stop in order within %d s; stopping "
                              "them anyway (every acknowledged change is in its log)",
                              STOP_GRACE_S)  # fmt: skip
                nursery.cancel_scope.cancel()
                break
