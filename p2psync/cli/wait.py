"""``p2psync wait-idle``: wait until the connected members are in sync, with progress.

Polls the daemon's ``status`` (and ``idle``) and draws progress on standard error
(cli/progress.py). ``wait_idle`` is also what a command that joins a share can call
to show the first sync.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from p2psync.cli.context import Context
from p2psync.cli.progress import Progress
from p2psync.cli.statusview import writing_text
from p2psync.control.client import ControlClient
from p2psync.control.errorcodes import NotFoundError
from p2psync.errors import UsageError
from p2psync.ids import ShareId

if TYPE_CHECKING:
    from p2psync.control.replies import IdleReply, ShareStatus, StatusReply

WAIT_POLL_S = 0.1
NO_MEMBER_DONE = (
    "no member is connected: the changes made here are taken in, nothing was synced"
    " (--min-peers N waits for N members)"
)


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    wait = commands.add_parser("wait-idle", help="wait until every connected member is in sync")
    wait.add_argument("--timeout", type=float, default=60.0, metavar="S")
    wait.add_argument("--min-peers", type=int, default=0, help="also wait for this many peers")
    wait.add_argument("--share", help="wait for this share only, until it is in sync with a member")
    wait.add_argument("--quiet", action="store_true", help="show no progress")
    wait.set_defaults(func=run_wait_idle)


def run_wait_idle(args: argparse.Namespace, ctx: Context) -> int:
    if not 0 <= args.timeout < float("inf"):  # also NaN
        raise UsageError("--timeout must be a number of seconds, at least 0")
    share = str(ShareId.parse(args.share)) if args.share else None
    progress = Progress(enabled=not args.quiet)
    try:
        if wait_idle(ctx, args.timeout, args.min_peers, progress, share=share):
            return 0
    finally:
        progress.close()
    print(f"p2psync: not in sync after {args.timeout:g} s", file=sys.stderr)
    return 1


def wait_idle(
    ctx: Context, timeout_s: float, min_peers: int, progress: Progress, *, share: str | None = None
) -> bool:
    """Poll until every connected member is in sync (and at least ``min_peers`` are
    connected), showing progress (with none connected, until the changes made here
    are taken in, and saying so); with ``share``, until that share is in sync with at
    least one member (a first sync after joining). False on timeout. Raises
    NotFoundError if the daemon has no such share."""
    deadline = time.monotonic() + timeout_s
    with ControlClient(ctx.home.socket_path) as client:
        while True:
            status: StatusReply = client.call("status")
            if share is None:
                idle: IdleReply = client.call("idle")
                done = idle["idle"] and idle["connected"] >= min_peers
                connected = len(status["connected"])
                shares = status["shares"]
            else:
                found = _share_status(status, share)
                connected = len(found["peers_connected"])
                done = found["in_sync"] and connected >= min_peers
                shares = [found]
            pcts = [s["in_sync_pct"] for s in shares if s["in_sync_pct"] is not None]
            if done and connected == 0:  # in sync with nobody: say what was waited for
                progress.note(NO_MEMBER_DONE)
                return True
            if done:
                progress.update(100.0, f"in sync with {connected} connected peer(s)")
                return True
            needed = max(min_peers, 1 if share else 0)
            if connected < needed:
                progress.update(None, f"waiting for peers ({connected}/{needed} connected)")
            elif connected == 0:
                progress.update(None, "no member is connected: taking in the changes made here")
            else:
                pct = sum(pcts) / len(pcts) if pcts else None
                to_write = sum(s.get("files_to_write", 0) for s in shares)
                writing = writing_text({"files_to_write": to_write})
                words = f"syncing with {connected} connected peer(s)"
                progress.update(pct, f"{words}; {writing}" if writing else words)
            if time.monotonic() > deadline:
                return False
            time.sleep(WAIT_POLL_S)


def _share_status(status: StatusReply, share: str) -> ShareStatus:
    for found in status["shares"]:
        if found["id"] == share:
            return found
    raise NotFoundError(f"this device has no share {share}")
