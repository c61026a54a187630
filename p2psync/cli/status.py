"""``p2psync status`` and ``p2psync peers``: the state of this device, its shares and peers.

Human output is aligned tables (``cli.statusview``, imported only for it); ``--json``
prints the control API's reply as is (schemas in docs/control-api.md).
"""

from __future__ import annotations

from p2psync.cli.context import print_json

TYPE_CHECKING = False  # typing.TYPE_CHECKING, without importing typing (control/home.py)
if TYPE_CHECKING:  # argparse too: ``cli.main`` runs these commands without it (shortcut)
    import argparse

    from p2psync.cli.context import Context
    from p2psync.control.replies import PeersReply, StatusReply


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    status = commands.add_parser("status", help="state of this device and its shares")
    status.add_argument("--json", action="store_true", help="print the API's JSON reply")
    status.set_defaults(func=run_status)
    peers = commands.add_parser("peers", help="known, connected and pending devices")
    peers.add_argument("--json", action="store_true", help="print the API's JSON reply")
    peers.set_defaults(func=run_peers)


def run_status(args: argparse.Namespace, ctx: Context) -> int:
    return show_status(ctx, as_json=args.json)


def run_peers(args: argparse.Namespace, ctx: Context) -> int:
    return show_peers(ctx, as_json=args.json)


def show_status(ctx: Context, *, as_json: bool) -> int:
    """``p2psync status [--json]``."""
    status: StatusReply = ctx.call("status")
    if as_json:
        print_json(status)
        return 0
    from p2psync.cli.statusview import format_status  # noqa: PLC0415 (not for --json)

    print(format_status(status))
    return 0


def show_peers(ctx: Context, *, as_json: bool) -> int:
    """``p2psync peers [--json]``."""
    result: PeersReply = ctx.call("peers")
    if as_json:
        print_json(result)
        return 0
    from p2psync.cli.statusview import format_peers  # noqa: PLC0415 (not for --json)

    print(format_peers(result))
    return 0
