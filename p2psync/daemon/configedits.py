"""Config edits shared by the daemon's control API and the CLI (when no daemon runs).

Each takes the current Config and the request's params and returns the new Config,
raising UsageError for a request that cannot be carried out.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from p2psync.config import (
    Config,
    FolderMode,
    Member,
    PeerConfig,
    ShareConfig,
    parse_address,
    parse_mode,
)
from p2psync.errors import UsageError
from p2psync.ids import DeviceId, ShareId


def share_from_params(params: dict[str, Any], config: Config) -> ShareConfig:
    """The share a ``share add`` asks for. Raises UsageError for a bad path or ID."""
    path = Path(str(params.get("path", ""))).expanduser().resolve()
    if path.exists() and not path.is_dir():
        raise UsageError(f"{path} is not a directory")
    for existing in config.shares:
        if existing.path == path:
            raise UsageError(f"{path} is already shared as {existing.id}")
    raw_id = params.get("id")
    share_id = ShareId.parse(str(raw_id)) if raw_id else ShareId.new()
    if config.share(share_id) is not None:
        raise UsageError(f"share {share_id} already exists here")
    return ShareConfig(share_id, path)


def remove_share(config: Config, params: dict[str, Any]) -> Config:
    """``share remove``: stop sharing a folder (its files and logs stay on disk)."""
    share_id = ShareId.parse(str(params.get("share", "")))
    if config.share(share_id) is None:
        raise UsageError(f"no share {share_id}")
    return config.without_share(share_id)


def add_member(config: Config, params: dict[str, Any]) -> Config:
    """``share member add``: a device joins a share (manual membership)."""
    share_id = ShareId.parse(str(params.get("share", "")))
    device = DeviceId.parse(str(params.get("device", "")))
    mode = parse_mode(params.get("mode", FolderMode.SEND_RECEIVE.value))
    share = config.share(share_id)
    if share is None:
        raise UsageError(f"no share {share_id}")
    members = tuple(m for m in share.members if m.device_id != device)
    config = config.with_share(replace(share, members=(*members, Member(device, mode))))
    if config.peer(device) is None:
        config = config.with_peer(PeerConfig(device))
    return config


def add_peer(config: Config, params: dict[str, Any]) -> Config:
    """``peer add``: a static address for a device."""
    device = DeviceId.parse(str(params.get("device", "")))
    address = str(params.get("address", ""))
    parse_address(address)
    existing = config.peer(device)
    addresses = existing.addresses if existing else ()
    if address not in addresses:
        addresses = (*addresses, address)
    return config.with_peer(PeerConfig(device, addresses, existing.name if existing else ""))


def remove_member(config: Config, params: dict[str, Any]) -> Config:
    """``share member remove``: a device leaves a share (it keeps its peer entry, for
    the other shares it may be in)."""
    share_id = ShareId.parse(str(params.get("share", "")))
    device = DeviceId.parse(str(params.get("device", "")))
    share = config.share(share_id)
    if share is None:
        raise UsageError(f"no share {share_id}")
    if share.member(device) is None:
        raise UsageError(f"device {device.short()} is not a member of share {share_id}")
    members = tuple(m for m in share.members if m.device_id != device)
    return config.with_share(replace(share, members=members))
