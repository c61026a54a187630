"""Config edits shared by the daemon's control API and the CLI (when no daemon runs),
and the config as both read it (``load_or_init_config``).

Each edit takes the current Config and the request's params and returns the new Config,
raising UsageError for a request that cannot be carried out.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Any

from p2psync.config import (
    Config,
    FolderMode,
    Member,
    PeerConfig,
    ShareConfig,
    check_address,
    check_device_name,
    default_config,
    load_config,
    parse_mode,
    save_config,
)
from p2psync.control.errorcodes import NotFoundError
from p2psync.control.home import Home
from p2psync.errors import UsageError
from p2psync.ids import DeviceId, ShareId
from p2psync.storage.layout import MARKER_DIR_NAME

MAX_SCANNED_ENTRIES = 100_000
"""How many entries ``share add`` looks at for another share's ``.p2psync`` folder."""


def load_or_init_config(home: Home) -> Config:
    """The device's config, written with defaults (and a default share) on first use."""
    if home.config_path.exists():
        return load_config(home.config_path)
    config = default_config(home.default_share_dir)
    save_config(home.config_path, config)
    return config


def share_from_params(params: dict[str, Any], config: Config, home: Home) -> ShareConfig:
    """The share a ``share add`` (or ``join``) asks for. Raises UsageError for a bad
    path or ID. A path that does not exist is made only with ``create`` true, so that
    a typo does not become a new empty share."""
    path = Path(str(params.get("path", ""))).expanduser().resolve()
    try:
        exists = path.exists()
    except OSError as exc:  # a name too long for the file system, a folder we may not read
        raise UsageError(f"cannot use {path}: {exc.strerror or exc}") from None
    if exists and not path.is_dir():
        raise UsageError(f"{path} is not a directory")
    check_share_path(path, config, home)
    if not exists and params.get("create") is not True:
        raise UsageError(f"{path} does not exist (pass --create to share a new, empty folder)")
    raw_id = params.get("id")
    share_id = ShareId.parse(str(raw_id)) if raw_id else ShareId.new()
    if config.share(share_id) is not None:
        raise UsageError(f"share {share_id} already exists here")
    return ShareConfig(share_id, path)


def check_share_path(path: Path, config: Config, home: Home) -> None:
    """Refuse a share folder that would send this device's own files: one that holds
    the home (keys, config, state), lies in the home's identity or state, lies inside
    a ``.p2psync`` folder, or holds or lies inside another share (whose ``.p2psync``
    and files are that share's). Folders beside them in an explicit ``--home`` stay
    allowed: the first run puts the default share there."""
    root = home.root.resolve()
    if root.is_relative_to(path):
        raise UsageError(f"{path} holds this device's home {root} (its keys and config)")
    for own in (home.identity_dir, home.state_dir):
        if path.is_relative_to(own.resolve()):
            raise UsageError(f"{path} is inside this device's home ({own})")
    if MARKER_DIR_NAME in path.parts:
        raise UsageError(f"{path} is inside a {MARKER_DIR_NAME} folder, which p2psync keeps")
    for existing in config.shares:
        other = existing.path.resolve()
        if other == path:
            raise UsageError(f"{path} is already shared as {existing.id}")
        if path.is_relative_to(other):
            raise UsageError(f"{path} is inside the share {existing.id} at {other}")
        if other.is_relative_to(path):
            raise UsageError(f"{path} holds the share {existing.id} at {other}")
    marker = _marker_below(path)
    if marker is not None:
        raise UsageError(f"{path} holds {marker}, another share's folder of logs")


def _marker_below(path: Path) -> Path | None:
    """A ``.p2psync`` folder below ``path``'s own (a share's that is no longer, or not
    yet, configured here: the mirror would send its logs as files), or None. Looks at
    most at MAX_SCANNED_ENTRIES entries, so that a huge tree does not stall the
    daemon; symlinks are not followed."""
    folders, seen = [path], 0
    while folders and seen < MAX_SCANNED_ENTRIES:
        folder = folders.pop()
        try:
            with os.scandir(folder) as entries:
                for entry in entries:
                    seen += 1
                    if not entry.is_dir(follow_symlinks=False):
                        continue
                    if entry.name != MARKER_DIR_NAME:
                        folders.append(Path(entry.path))
                    elif folder != path:
                        return Path(entry.path)
        except OSError:  # unreadable: the mirror will report it, nothing to refuse here
            continue
    return None


def remove_share(config: Config, params: dict[str, Any]) -> Config:
    """``share remove``: stop sharing a folder (its files and logs stay on disk)."""
    share_id = ShareId.parse(str(params.get("share", "")))
    if config.share(share_id) is None:
        raise NotFoundError(f"no share {share_id}")
    return config.without_share(share_id)


def add_member(config: Config, params: dict[str, Any], own: DeviceId) -> Config:
    """``share member add``: a device joins a share (manual membership). ``own``, this
    device's ID, is refused: a share's members are the devices it syncs with."""
    share_id = ShareId.parse(str(params.get("share", "")))
    device = DeviceId.parse(str(params.get("device", "")))
    if device == own:
        raise UsageError(
            f"device {device.short()} is this device: a share's members are the other "
            "devices it syncs with"
        )
    mode = parse_mode(params.get("mode", FolderMode.SEND_RECEIVE.value))
    share = config.share(share_id)
    if share is None:
        raise NotFoundError(f"no share {share_id}")
    members = tuple(m for m in share.members if m.device_id != device)
    config = config.with_share(replace(share, members=(*members, Member(device, mode))))
    if config.peer(device) is None:
        config = config.with_peer(PeerConfig(device))
    return config


def add_peer(config: Config, params: dict[str, Any]) -> Config:
    """``peer add``: a static address for a device."""
    device = DeviceId.parse(str(params.get("device", "")))
    address = str(params.get("address", ""))
    check_address(address)
    existing = config.peer(device)
    addresses = existing.addresses if existing else ()
    if address not in addresses:
        addresses = (*addresses, address)
    return config.with_peer(PeerConfig(device, addresses, existing.name if existing else ""))


def remove_peer(config: Config, params: dict[str, Any]) -> Config:
    """``peer remove``: forget a device's static addresses (it keeps its entry while
    it is a member of a share, for its name and membership)."""
    device = DeviceId.parse(str(params.get("device", "")))
    existing = config.peer(device)
    if existing is None or not existing.addresses:
        raise UsageError(f"device {device.short()} has no static address to remove")
    others = tuple(p for p in config.peers if p.device_id != device)
    if any(share.member(device) for share in config.shares):
        others = (*others, replace(existing, addresses=()))
    return replace(config, peers=others)


def name_peer(config: Config, params: dict[str, Any]) -> Config:
    """``peer name``: the name this device shows for another device, whatever name it
    announces ("" forgets it)."""
    device = DeviceId.parse(str(params.get("device", "")))
    raw = params.get("name", "")
    name = "" if raw == "" else check_device_name(raw)
    existing = config.peer(device)
    if existing is None and not name:
        return config
    addresses = existing.addresses if existing else ()
    return config.with_peer(PeerConfig(device, addresses, name))


def rename_device(config: Config, params: dict[str, Any]) -> Config:
    """``name``: the name this device gives itself in the hello."""
    return replace(config, device_name=check_device_name(params.get("name")))


def remove_member(config: Config, params: dict[str, Any]) -> Config:
    """``share member remove``: a device leaves a share (it keeps its peer entry, for
    the other shares it may be in)."""
    share_id = ShareId.parse(str(params.get("share", "")))
    device = DeviceId.parse(str(params.get("device", "")))
    share = config.share(share_id)
    if share is None:
        raise NotFoundError(f"no share {share_id}")
    if share.member(device) is None:
        raise UsageError(f"device {device.short()} is not a member of share {share_id}")
    members = tuple(m for m in share.members if m.device_id != device)
    return config.with_share(replace(share, members=members))
