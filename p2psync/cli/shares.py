"""``p2psync share add|list|remove`` and ``share member add``."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

from p2psync.cli import human, table
from p2psync.cli.context import Context, print_json
from p2psync.config import FolderMode
from p2psync.daemon.configedits import (
    add_member,
    remove_member,
    remove_share,
    share_from_params,
)
from p2psync.daemon.sharefolders import set_up_folder
from p2psync.errors import UsageError
from p2psync.ids import ShareId

if TYPE_CHECKING:
    from p2psync.config import Config
    from p2psync.control.replies import ShareAddReply, ShareStatus, StatusReply


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    share = commands.add_parser("share", help="manage shared folders")
    sub = share.add_subparsers(dest="share_command", required=True)
    add = sub.add_parser("add", help="share a folder")
    add.add_argument("path")
    add.add_argument("--id", help="join an existing share by its ID")
    add.add_argument("--create", action="store_true", help="make the folder if it does not exist")
    add.set_defaults(func=run_add)
    listing = sub.add_parser("list", help="list shares")
    listing.add_argument("--json", action="store_true")
    listing.set_defaults(func=run_list)
    remove = sub.add_parser("remove", help="stop sharing a folder (its files stay)")
    remove.add_argument("share")
    remove.set_defaults(func=run_remove)
    member = sub.add_parser("member", help="manage share members")
    member_sub = member.add_subparsers(dest="member_command", required=True)
    member_add = member_sub.add_parser("add", help="add a device to a share")
    member_add.add_argument("share")
    member_add.add_argument("device")
    member_add.add_argument("--mode", default="send-receive", choices=[m.value for m in FolderMode])
    member_add.set_defaults(func=run_member_add)
    member_remove = member_sub.add_parser("remove", help="remove a device from a share")
    member_remove.add_argument("share")
    member_remove.add_argument("device")
    member_remove.set_defaults(func=run_member_remove)


def run_add(args: argparse.Namespace, ctx: Context) -> int:
    params = {"path": args.path, "id": args.id, "create": args.create}
    client = ctx.client()
    if client is not None:
        with client:
            added: ShareAddReply = client.call("share.add", **params)
            print(added["id"])
        return 0
    config = ctx.config()
    share = share_from_params(params, config, ctx.home)
    try:
        set_up_folder(ctx.home, share)
    except OSError as exc:
        raise UsageError(f"cannot create the folder {share.path}: {exc.strerror or exc}") from None
    ctx.save(config.with_share(share))
    print(share.id)
    return 0


def run_list(args: argparse.Namespace, ctx: Context) -> int:
    rows = share_rows(ctx)
    if args.json:
        print_json({"shares": rows})
        return 0
    if not rows:
        print("no shares")
        return 0
    cells = [
        [row["id"], row["path"], str(len(row["members"])),
         "-" if row["docs"] is None else str(row["docs"]), human.percent(row["in_sync_pct"])]
        for row in rows
    ]  # fmt: skip
    print(table.render(["SHARE", "PATH", "MEMBERS", "DOCS", "SYNC"], cells, right=[2, 3, 4]))
    return 0


def share_rows(ctx: Context) -> list[dict[str, Any]]:
    """Every configured share; ``docs`` and ``in_sync_pct`` come from the daemon and
    are null when none runs."""
    live: dict[str, ShareStatus] = {}
    client = ctx.client()
    if client is not None:
        with client:
            status: StatusReply = client.call("status")
            live = {s["id"]: s for s in status["shares"]}
    rows = []
    for s in ctx.config().shares:
        found = live.get(str(s.id))
        rows.append({
            "id": str(s.id),
            "path": str(s.path),
            "members": [{"device_id": str(m.device_id), "mode": m.mode.value} for m in s.members],
            "docs": found["docs"] if found else None,
            "in_sync_pct": found["in_sync_pct"] if found else None,
        })  # fmt: skip
    return rows


def run_remove(args: argparse.Namespace, ctx: Context) -> int:
    ctx.change_config("share.remove", {"share": str(ShareId.parse(args.share))}, remove_share)
    return 0


def run_member_add(args: argparse.Namespace, ctx: Context) -> int:
    params = {"share": args.share, "device": args.device, "mode": args.mode}

    def edit(config: Config, params: dict[str, Any]) -> Config:
        from p2psync.net.identity import load_or_create_identity  # noqa: PLC0415 - crypto

        own = load_or_create_identity(ctx.home.identity_dir).device_id
        return add_member(config, params, own)

    ctx.change_config("share.member.add", params, edit)
    return 0


def run_member_remove(args: argparse.Namespace, ctx: Context) -> int:
    params = {"share": args.share, "device": args.device}
    ctx.change_config("share.member.remove", params, remove_member)
    return 0
