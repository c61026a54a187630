"""``p2psync events [--json]``: follow the daemon's event stream until Ctrl-C.

Human output is one line per event (local time, type, the fields that matter);
``--json`` prints each event as one JSON object per line, exactly as the control API
sends it (docs/control-api.md), for scripts that react to what happens.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from p2psync.cli.context import Context
from p2psync.cli.statusview import short
from p2psync.control.client import ControlClient

SHOWN_FIELDS = ("name", "address", "share", "doc", "docs", "message", "count", "listen")


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser("events", help="follow what the daemon does (until Ctrl-C)")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, ctx: Context) -> int:
    with ControlClient(ctx.home.socket_path) as client:
        for event in client.events():
            line = json.dumps(event, sort_keys=True) if args.json else format_event(event)
            print(line, flush=True)
    print("p2psync: the daemon stopped", file=sys.stderr)
    return 0


def format_event(event: dict[str, Any]) -> str:
    """One event as a line: ``HH:MM:SS type  key=value ...``."""
    stamp = time.strftime("%H:%M:%S", time.localtime(float(event.get("time", 0))))
    parts = [stamp, str(event.get("type", "?"))]
    if "device" in event:
        parts.append(f"device={short(str(event['device']))}")
    parts += [f"{key}={event[key]}" for key in SHOWN_FIELDS if event.get(key) not in (None, "")]
    return "  ".join(parts[:2]) + ("  " + " ".join(parts[2:]) if parts[2:] else "")
