"""``p2psync conflicts``: the copies of versions that lost, kept per share.

Read from the share folders themselves (``mirror.conflicts``), so it works with the
daemon stopped too. ``--json`` prints ``{"shares": [{"id", "path", "conflicts"}]}``
with the fields of ``status --json``'s ``conflicts`` (docs/control-api.md).
"""

from __future__ import annotations

import argparse
import time
from dataclasses import asdict
from typing import Any

from p2psync.cli import human, table
from p2psync.cli.context import Context, print_json
from p2psync.mirror.conflicts import list_copies

WHY_WORDS = {
    "local": "a save that could not be merged",
    "overwritten": "what a save overwrote",
    "lost": "a concurrent version that lost",
    "collision": "a file created on two devices",
    "case": "a name only another spelling holds here",
}


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("conflicts", help="copies of versions that lost, per share")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    shares = [
        {"id": str(share.id), "path": str(share.path),
         "conflicts": [asdict(c) for c in list_copies(share.path)]}
        for share in ctx.config().shares
    ]  # fmt: skip
    if args.json:
        print_json({"shares": shares})
        return 0
    print(format_conflicts(shares, time.time()))
    return 0


def format_conflicts(shares: list[dict[str, Any]], now: float) -> str:
    """The human form: one row per kept copy, or a sentence when there is none."""
    rows = [
        [share["id"], human.name(c["path"]) or "?", WHY_WORDS.get(c["why"], c["why"]),
         c["device"] or "-", human.ago(c["when"], now) if c["when"] else "-",
         f"{share['path']}/.p2psync/conflicts/{c['copy']}"]
        for share in shares
        for c in share["conflicts"]
    ]  # fmt: skip
    if not rows:
        return "No conflict copies."
    return table.render(["SHARE", "FILE", "WHY", "DEVICE", "KEPT", "COPY"], rows)
