"""``p2psync invite SHARE`` and ``p2psync join CODE PATH`` (docs/cli.md, docs/security.md).

``invite`` works whether or not the daemon runs: through it when it does (the code
then lists the address it really listens on), otherwise by recording the invite in
this home's state, where the daemon finds it when the joiner comes. ``join`` needs the
daemon running: it is the daemon that dials the inviter and proves the code.
"""

from __future__ import annotations

import argparse
import re
import time
from typing import TYPE_CHECKING

from p2psync.cli.context import Context, print_json
from p2psync.config import FolderMode
from p2psync.daemon.invites import (
    DEFAULT_INVITE_TTL_S,
    InviteStore,
    invite_addresses,
    make_invite,
)
from p2psync.daemon.joins import invite_result
from p2psync.errors import DaemonNotRunningError, UsageError
from p2psync.ids import ShareId
from p2psync.invitecode import MAX_ADDRESSES, parse_invite
from p2psync.net.identity import load_or_create_identity
from p2psync.protocol.connection import HANDSHAKE_TIMEOUT_S

if TYPE_CHECKING:
    from p2psync.control.replies import InviteReply, JoinReply

_UNITS_S = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d{1,9})([smhd]?)")
JOIN_TIMEOUT_S = HANDSHAKE_TIMEOUT_S * MAX_ADDRESSES + 10


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    invite = commands.add_parser("invite", help="print a one-time code that lets a device join")
    invite.add_argument("share")
    invite.add_argument("--expires", default="24h", help="lifetime: 90s, 30m, 24h, 7d")
    invite.add_argument(
        "--address", action="append", default=[], help="HOST:PORT to list (repeatable)"
    )
    invite.add_argument(
        "--mode", default=FolderMode.SEND_RECEIVE.value, choices=[m.value for m in FolderMode],
        help="the mode the joiner gets in the share",
    )  # fmt: skip
    invite.add_argument("--json", action="store_true")
    invite.set_defaults(func=run_invite)
    join = commands.add_parser("join", help="join a share with an invite code")
    join.add_argument("code")
    join.add_argument("path")
    join.add_argument("--json", action="store_true")
    join.set_defaults(func=run_join)


def parse_duration(text: str) -> int:
    """Seconds in ``90s``, ``30m``, ``24h``, ``7d`` or ``3600``; raises UsageError."""
    match = _DURATION.fullmatch(text.strip().lower())
    if match is None:
        raise UsageError(f"{text!r} is not a duration such as 90s, 30m, 24h or 7d")
    return int(match[1]) * _UNITS_S[match[2] or "s"]


def run_invite(args: argparse.Namespace, ctx: Context) -> int:
    share_id = ShareId.parse(args.share)
    ttl = parse_duration(args.expires) if args.expires else DEFAULT_INVITE_TTL_S
    client = ctx.client()
    if client is not None:
        params: dict[str, object] = {"share": str(share_id), "expires_s": ttl, "mode": args.mode}
        if args.address:
            params["addresses"] = args.address
        with client:
            result: InviteReply = client.call("invite", **params)
    else:
        config = ctx.config()
        if config.share(share_id) is None:
            raise UsageError(f"no share {share_id}")
        code = make_invite(
            InviteStore(ctx.home.state_dir), share_id=share_id,
            inviter=load_or_create_identity(ctx.home.identity_dir).device_id,
            addresses=tuple(args.address) or invite_addresses(config.listen),
            ttl_s=ttl, now=time.time(), mode=FolderMode(args.mode),
        )  # fmt: skip
        result = invite_result(code)
    if args.json:
        print_json(result)
    else:
        expires = time.strftime("%Y-%m-%d %H:%M", time.localtime(result["expires"]))
        print(result["code"])
        print(f"(one use, until {expires}; on the new device: p2psync join CODE PATH)")
    return 0


def run_join(args: argparse.Namespace, ctx: Context) -> int:
    code = parse_invite(args.code)  # a typo is a usage error, before any daemon is asked
    if code.expired(time.time()):
        raise UsageError("this invite code has expired: ask for a new one")
    client = ctx.client(timeout_s=JOIN_TIMEOUT_S)
    if client is None:
        raise DaemonNotRunningError(
            "no daemon is running for this device: start it ('p2psync run') and join again"
        )
    with client:
        result: JoinReply = client.call("join", code=args.code, path=args.path)
    if args.json:
        print_json(result)
    else:
        print(f"joined share {result['share']} at {result['path']}")
    return 0
