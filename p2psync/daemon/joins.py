"""The control API's invite and join methods (docs/control-api.md).

``invite`` records an invite for one of our shares and returns its code. ``join``
reads a code, dials the inviter (pinning its device ID) and proves the code's secret
inside that session; only once the inviter accepted it does the share appear here, at
the given path, with the inviter as its member, and the link start syncing it. A
refused or unreachable join changes nothing.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import trio

from p2psync.config import Config, FolderMode, Member, PeerConfig, parse_mode
from p2psync.control.errorcodes import NotFoundError
from p2psync.control.replies import InviteReply, JoinReply, OkReply
from p2psync.daemon.configedits import remove_member, share_from_params
from p2psync.daemon.controlhost import ControlHost
from p2psync.daemon.invites import DEFAULT_INVITE_TTL_S, invite_addresses, make_invite
from p2psync.errors import ControlError, UsageError
from p2psync.ids import DeviceId, ShareId
from p2psync.invitecode import parse_invite


async def invite(host: ControlHost, params: dict[str, Any]) -> InviteReply:
    """``invite``: params ``share``, optional ``expires_s`` (lifetime, default one day),
    ``addresses`` (default: where this daemon listens) and ``mode`` (the joiner's,
    default send-receive)."""
    share_id = ShareId.parse(str(params.get("share", "")))
    if host.registry.config.share(share_id) is None:
        raise NotFoundError(f"this device has no share {share_id}")
    ttl = params.get("expires_s", DEFAULT_INVITE_TTL_S)
    addresses = params.get("addresses") or invite_addresses(host.listen_address)
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        raise ControlError("expires_s must be a whole number of seconds", "bad-request")
    if not isinstance(addresses, list | tuple) or not all(isinstance(a, str) for a in addresses):
        raise ControlError("addresses must be a list of HOST:PORT strings", "bad-request")
    code = make_invite(
        host.membership.invites, share_id=share_id, inviter=host.identity.device_id,
        addresses=tuple(addresses), ttl_s=ttl, now=time.time(),
        mode=parse_mode(params.get("mode", FolderMode.SEND_RECEIVE.value)),
    )  # fmt: skip
    return invite_result(code)


def invite_result(code: Any) -> InviteReply:
    """The JSON result of an invite (the CLI prints the same without a daemon)."""
    return {
        "code": str(code),
        "share": str(code.share_id),
        "inviter": str(code.inviter),
        "addresses": list(code.addresses),
        "expires": code.expires,
    }


async def join(host: ControlHost, params: dict[str, Any]) -> JoinReply:
    """``join``: params ``code`` and ``path``. Raises InvalidInviteError (a mistyped
    code), UsageError (expired, our own, share or path already here) or
    InviteRefusedError (refused, unreachable)."""
    code = parse_invite(str(params.get("code", "")))
    if code.expired(time.time()):
        raise UsageError("this invite code has expired: ask for a new one")
    registry = host.registry
    if code.inviter == host.identity.device_id:
        raise UsageError("this invite code was made by this device")
    wanted = {"path": params.get("path", ""), "id": str(code.share_id), "create": True}
    share = share_from_params(wanted, registry.config, registry.home)
    made = _make_folder(share.path)  # before the invite is spent on the inviter's side
    try:
        channel = await host.peers.dialer.dial_join(code.inviter, code.addresses, code.secret)
    except BaseException:
        _remove_folders(made)
        raise
    known = registry.config.peer(code.inviter)
    saved_map = host.membership.saved_map(share.id)
    try:
        config = registry.config.with_share(replace(share, members=(Member(code.inviter),)))
        addresses = (*(known.addresses if known else ()), *code.addresses)
        config = config.with_peer(PeerConfig(
            code.inviter, tuple(dict.fromkeys(addresses)), known.name if known else ""
        ))  # fmt: skip
        registry.update_config(config)
        joined = config.share(share.id)
        assert joined is not None
        await registry.start_share(joined, joined=True)
    except BaseException:
        if share.id not in registry.shares:  # not started: the config is as before
            registry.update_config(_undo_join(registry.config, share.id, code.inviter, known))
            host.membership.restore_map(share.id, saved_map)
            _remove_folders(made)
        with contextlib.suppress(Exception), trio.CancelScope(shield=True):
            await channel.goodbye("error", "the join could not be completed here")
        raise
    host.peers.adopt(channel, "invite")
    host.peers.dialer.refresh()
    host.events.publish("joined", share=str(share.id), inviter=str(code.inviter))
    return {"share": str(share.id), "path": str(share.path), "inviter": str(code.inviter)}


def _make_folder(path: Path) -> list[Path]:
    """Make the joined share's folder (and its missing parents); return the folders
    made, deepest first, for a failed join to remove. UsageError if it cannot be."""
    made = []
    missing = path
    while not missing.exists() and missing != missing.parent:
        made.append(missing)
        missing = missing.parent
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        _remove_folders(made)
        raise UsageError(f"cannot create the folder {path}: {exc.strerror}") from None
    return made


def _remove_folders(made: list[Path]) -> None:
    """Remove the folders a failed join made (each only if still empty)."""
    for folder in made:
        with contextlib.suppress(OSError):
            folder.rmdir()


def _undo_join(
    config: Config, share_id: ShareId, inviter: DeviceId, known: PeerConfig | None
) -> Config:
    """``config`` without what a join that failed here added: the share, and the
    inviter's entry as it was (``known``, or none)."""
    config = config.without_share(share_id)
    if known is not None:
        return config.with_peer(known)
    return replace(config, peers=tuple(p for p in config.peers if p.device_id != inviter))


async def member_remove(host: ControlHost, params: dict[str, Any]) -> OkReply:
    """``share.member.remove``: params ``share`` and ``device``; the device is cut off
    from the share at once (``MembershipService``)."""
    host.registry.update_config(remove_member(host.registry.config, params))
    return {"ok": True}
