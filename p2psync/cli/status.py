"""``p2psync status``, ``p2psync peers`` and ``p2psync wait-idle``.

Human output is aligned tables; ``--json`` prints the control API's reply as is
(schemas in docs/control-api.md). ``wait-idle`` shows progress on standard error.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from p2psync.cli import human, table
from p2psync.cli.context import Context, print_json
from p2psync.cli.progress import Progress
from p2psync.daemon.client import ControlClient
from p2psync.errors import ControlError, InvalidIdError
from p2psync.ids import DeviceId, ShareId

WAIT_POLL_S = 0.1
PENDING_HINT = "Pending devices asked to connect; accept one: p2psync share member add SHARE ID"
STATE_WORDS = {
    "up-to-date": "up to date",
    "syncing": "syncing",
    "offline": "offline (no member connected)",
    "paused": "paused",
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = commands.add_parser("status", help="state of this device and its shares")
    status.add_argument("--json", action="store_true", help="print the API's JSON reply")
    status.set_defaults(func=run_status)
    peers = commands.add_parser("peers", help="known, connected and pending devices")
    peers.add_argument("--json", action="store_true", help="print the API's JSON reply")
    peers.set_defaults(func=run_peers)
    wait = commands.add_parser("wait-idle", help="wait until every connected member is in sync")
    wait.add_argument("--timeout", type=float, default=60.0, metavar="S")
    wait.add_argument("--min-peers", type=int, default=0, help="also wait for this many peers")
    wait.add_argument("--share", help="wait for this share only, until it is in sync with a member")
    wait.add_argument("--quiet", action="store_true", help="show no progress")
    wait.set_defaults(func=run_wait_idle)


def short(device_id: str) -> str:
    """The short form of a device ID for tables (the full one is in ``--json``)."""
    try:
        return DeviceId.parse(device_id).short()
    except InvalidIdError:
        return device_id


def run_status(args: argparse.Namespace, ctx: Context) -> int:
    status = ctx.call("status")
    if args.json:
        print_json(status)
        return 0
    print(format_status(status))
    return 0


def format_status(status: dict[str, Any]) -> str:
    """The human form of a ``status`` reply."""
    now = time.time()
    head = table.fields([
        ("Device", f"{status['device_id']} ({status['name']})"),
        ("Listen", status["listen"]),
        ("State", STATE_WORDS.get(status["state"], status["state"])),
        ("Peers", f"{len(status['connected'])} connected, {len(status['pending'])} pending"),
    ])  # fmt: skip
    rows = [
        [share["id"], share["path"], str(share["docs"]), _share_state(share),
         human.percent(share["in_sync_pct"])]
        for share in status["shares"]
    ]  # fmt: skip
    parts = [head, "", table.render(["SHARE", "PATH", "DOCS", "STATE", "SYNC"], rows, right=[2, 4])]
    members = [
        [share["id"], short(m["device_id"]), m["name"] or "-", m["mode"], m["state"],
         human.percent(m["sync_pct"])]
        for share in status["shares"]
        for m in share["members"]
    ]  # fmt: skip
    if members:
        headers = ["SHARE", "MEMBER", "NAME", "MODE", "STATE", "SYNC"]
        parts += ["", table.render(headers, members, right=[5])]
    errors = [*status["errors"], *(e for s in status["shares"] for e in s["errors"])]
    if errors:
        lines = [f"{human.ago(e['time'], now)}: {e['message']}" for e in errors]
        parts += ["", "Recent errors:", *(f"  {line}" for line in lines)]
    return "\n".join(parts)


def _share_state(share: dict[str, Any]) -> str:
    members = share["members"]
    if share.get("paused"):
        return "paused (this share)"
    if not members:
        return "no other members"
    states = [m["state"] for m in members]
    in_sync = states.count("in-sync")
    connected = in_sync + states.count("behind")
    if "paused" in states:
        return "paused"
    if not connected:
        return f"offline (0/{len(members)} connected)"
    word = "in sync" if in_sync == connected else "syncing"
    return f"{word} ({in_sync}/{connected} connected in sync)"


def run_peers(args: argparse.Namespace, ctx: Context) -> int:
    result = ctx.call("peers")
    if args.json:
        print_json(result)
        return 0
    print(format_peers(result))
    return 0


def format_peers(result: dict[str, Any]) -> str:
    """The human form of a ``peers`` reply (a ``found_by`` column when the daemon
    reports how devices were found)."""
    now = time.time()
    peers, pending = result["peers"], result["pending"]
    found = any("found_by" in p for p in peers)
    headers = ["DEVICE", "NAME", "ADDRESS", "STATE", "SINCE", "SYNC", "IN", "OUT", "RATE IN",
               "RATE OUT", "PROTO"] + (["FOUND BY"] if found else [])  # fmt: skip
    rows = []
    for peer in peers:
        connected = peer["connected"]
        row = [
            short(peer["device_id"]),
            peer["name"] or "-",
            peer["address"] or "-",
            "connected" if connected else "paused" if result.get("paused") else "offline",
            human.ago(peer["connected_since"] if connected else peer["last_seen"], now),
            human.percent(peer["sync_pct"]),
            human.size(peer["bytes_in"]),
            human.size(peer["bytes_out"]),
            human.rate(peer["rate_in"]) if connected else "-",
            human.rate(peer["rate_out"]) if connected else "-",
            f"v{peer['protocol_version']}" if peer["protocol_version"] else "-",
        ]
        rows.append(row + ([str(peer.get("found_by") or "-")] if found else []))
    for peer in pending:
        blank = ["-"] * (len(headers) - 5)
        rows.append([short(peer["device_id"]), peer["name"] or "-", peer["address"] or "-",
                     "pending", human.ago(peer["last_seen"], now), *blank])  # fmt: skip
    if not rows:
        return "no known peers"
    text = table.render(headers, rows, right=[5, 6, 7, 8, 9])
    if pending:
        text += f"\n\n{PENDING_HINT}"
    return text


def run_wait_idle(args: argparse.Namespace, ctx: Context) -> int:
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
    connected), showing progress; with ``share``, until that share is in sync with at
    least one member (a first sync after joining). False on timeout. Raises
    ControlError if the daemon has no such share."""
    deadline = time.monotonic() + timeout_s
    with ControlClient(ctx.home.socket_path) as client:
        while True:
            status = client.call("status")
            if share is None:
                idle = client.call("idle")
                done = idle["idle"] and idle["connected"] >= min_peers
                connected = len(status["connected"])
                pcts = [s["in_sync_pct"] for s in status["shares"] if s["in_sync_pct"] is not None]
            else:
                found = _share_status(status, share)
                connected = len(found["peers_connected"])
                done = found["in_sync"] and connected >= min_peers
                pcts = [] if found["in_sync_pct"] is None else [found["in_sync_pct"]]
            if done:
                progress.update(100.0, f"in sync with {connected} connected peer(s)")
                return True
            needed = max(min_peers, 1 if share else 0)
            if connected < needed:
                progress.update(None, f"waiting for peers ({connected}/{needed} connected)")
            else:
                pct = sum(pcts) / len(pcts) if pcts else None
                progress.update(pct, f"syncing with {connected} connected peer(s)")
            if time.monotonic() > deadline:
                return False
            time.sleep(WAIT_POLL_S)


def _share_status(status: dict[str, Any], share: str) -> dict[str, Any]:
    for found in status["shares"]:
        if found["id"] == share:
            return dict(found)
    raise ControlError(f"this device has no share {share}", "not-found")
