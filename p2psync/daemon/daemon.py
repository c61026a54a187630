"""The composition root: the one place where the daemon's services are built and wired.

Nursery tree::

    Daemon.run
    ├── ControlServer.run          control socket for the CLI and GUI
    ├── PeerManager.run            dialers and the index flusher
    ├── PeerManager.serve          TCP listener → TLS handshakes → peer links
    ├── DirWatcher.run             watchdog thread bridge
    ├── Daemon._watch_logs         applies what other processes append to logs
    └── ShareService.run (each)    doc logs, writer tasks, sync engine

Cancelling ``run`` (SIGINT/SIGTERM in the CLI) lets each log writer finish what is
queued: every acknowledged update is already durable, and queued ones are flushed.
"""

from __future__ import annotations

import base64
import errno
import logging
from dataclasses import replace
from pathlib import Path
from typing import Any

import trio

from p2psync.config import (
    DEFAULT_PORT,
    Config,
    FolderMode,
    Member,
    PeerConfig,
    ShareConfig,
    default_config,
    load_config,
    parse_address,
    save_config,
)
from p2psync.daemon.control import ControlServer, Handler
from p2psync.daemon.events import EventBus
from p2psync.daemon.home import Home
from p2psync.daemon.peers import PeerManager
from p2psync.daemon.shares import ShareService
from p2psync.errors import ControlError, UsageError
from p2psync.ids import DeviceId, ShareId
from p2psync.net.identity import Identity, load_or_create_identity
from p2psync.storage.layout import check_guid, docs_dir, marker_dir
from p2psync.storage.snapshotter import SnapshotWorker
from p2psync.watch import DirWatcher

log = logging.getLogger(__name__)


def load_or_init_config(home: Home) -> Config:
    """The device's config, written with defaults (and a default share) on first use."""
    if home.config_path.exists():
        return load_config(home.config_path)
    config = default_config(home.default_share_dir)
    save_config(home.config_path, config)
    return config


class Daemon:
    """One device's daemon. Build it, then ``await nursery.start(daemon.run)``."""

    def __init__(self, home: Home, *, listen: str | None = None, mdns: bool | None = None) -> None:
        self.home = home
        home.ensure()
        self.identity: Identity = load_or_create_identity(home.identity_dir)
        self.config = load_or_init_config(home)
        if listen is not None:
            parse_address(listen)
            self.config = replace(self.config, listen=listen)
        if mdns is not None:
            self.config = replace(self.config, mdns=mdns)
        self.events = EventBus()
        self.shares: dict[ShareId, ShareService] = {}
        self.peers = PeerManager(
            self.identity, lambda: self.config, lambda: self.shares, self.events
        )
        self.watcher = DirWatcher()
        self.snapshots = SnapshotWorker()
        self.listen_address = ""
        self._nursery: trio.Nursery | None = None
        self._share_scopes: dict[ShareId, trio.CancelScope] = {}

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; reports the bound listen address when ready."""
        listeners = await self._listen()
        control = ControlServer(self.home.socket_path, self._handlers(), self.events)
        try:
            async with trio.open_nursery() as nursery:
                await self._serve(nursery, listeners, control, task_status)
        finally:
            await self.snapshots.aclose()

    async def _serve(
        self,
        nursery: trio.Nursery,
        listeners: list[trio.SocketListener],
        control: ControlServer,
        task_status: trio.TaskStatus[str],
    ) -> None:
        """Start every service in ``nursery``, then report readiness."""
        self._nursery = nursery
        await nursery.start(self.watcher.run)
        for share in self.config.shares:
            await self._start_share(share)
        await nursery.start(self.peers.run)
        nursery.start_soon(self.peers.serve, listeners)
        nursery.start_soon(self._watch_logs)
        await nursery.start(control.run)
        log.info("device %s listening on %s", self.identity.device_id, self.listen_address)
        self.events.publish("daemon-ready", listen=self.listen_address)
        task_status.started(self.listen_address)

    async def _listen(self) -> list[trio.SocketListener]:
        """Bind the configured address; the default port falls back to a free one."""
        host, port = parse_address(self.config.listen)
        try:
            listeners = await trio.open_tcp_listeners(port, host=host)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or port != DEFAULT_PORT:
                raise UsageError(f"cannot listen on {self.config.listen}: {exc.strerror}") from exc
            log.warning("port %d is taken; listening on a free port instead", port)
            listeners = await trio.open_tcp_listeners(0, host=host)
        bound = listeners[0].socket.getsockname()
        self.listen_address = f"{host}:{bound[1]}"
        return listeners

    # -- shares ------------------------------------------------------------------

    async def _start_share(self, config: ShareConfig) -> None:
        assert self._nursery is not None
        config.path.mkdir(parents=True, exist_ok=True)
        marker_dir(config.path).mkdir(exist_ok=True)
        service = ShareService(
            config,
            self.events,
            send=self.peers.send,
            disconnect=self.peers.disconnect,
            snapshots=self.snapshots,
        )
        scope = trio.CancelScope()
        self._share_scopes[config.id] = scope

        async def run_share(*, task_status: trio.TaskStatus[None]) -> None:
            with scope:
                await service.run(task_status=task_status)

        await self._nursery.start(run_share)
        self.shares[config.id] = service
        self.watcher.add_dir(docs_dir(config.path))
        for device in self.peers.links:
            if config.member(device):
                await service.execute(service.peer_up(device))

    async def _watch_logs(self) -> None:
        """Apply records other local processes append to any share's logs."""
        while True:
            for path in sorted(await self.watcher.next_changes()):
                for service in list(self.shares.values()):
                    if path.parent == docs_dir(service.root):
                        await service.log_changed(path)
            self.peers.request_flush()

    def _update_config(self, config: Config) -> None:
        save_config(self.home.config_path, config)
        self.config = config
        for service in self.shares.values():
            share = config.share(service.config.id)
            if share is not None:
                service.config = share

    # -- control API -------------------------------------------------------------

    def _handlers(self) -> dict[str, Handler]:
        return {
            "status": self._status,
            "peers": self._peers,
            "share.add": self._share_add,
            "share.remove": self._share_remove,
            "share.member.add": self._member_add,
            "peer.add": self._peer_add,
            "doc.apply": self._doc_apply,
            "doc.export": self._doc_export,
            "idle": self._idle,
        }

    async def _status(self, params: dict[str, Any]) -> Any:
        return {
            "device_id": str(self.identity.device_id),
            "name": self.config.device_name,
            "listen": self.listen_address,
            "shares": [s.status() for s in self.shares.values()],
            "connected": [str(d) for d in self.peers.links],
            "pending": [str(d) for d in self.peers.pending],
        }

    async def _peers(self, params: dict[str, Any]) -> Any:
        rows = []
        for device, info in sorted(self.peers.known.items()):
            link = self.peers.links.get(device)
            rows.append({
                "device_id": str(device),
                "name": info.name,
                "address": info.address,
                "connected": link is not None,
                "connected_since": link.since if link else None,
                "last_seen": info.last_seen,
                "last_error": info.last_error,
                "in_sync": bool(link) and self._in_sync_with(device),
                "bytes_in": link.channel.bytes_in if link else 0,
                "bytes_out": link.channel.bytes_out if link else 0,
            })  # fmt: skip
        pending = [
            {"device_id": str(p.device_id), "name": p.name, "address": p.address}
            for p in self.peers.pending.values()
        ]
        return {"peers": rows, "pending": pending}

    def _in_sync_with(self, device: DeviceId) -> bool:
        return all(
            s.sync.in_sync_with(device) for s in self.shares.values() if s.config.member(device)
        )

    async def _idle(self, params: dict[str, Any]) -> Any:
        connected = [d for d in self.peers.links if self._shares_with(d)]
        return {"idle": all(self._in_sync_with(d) for d in connected), "connected": len(connected)}

    def _shares_with(self, device: DeviceId) -> list[ShareService]:
        return [s for s in self.shares.values() if s.config.member(device)]

    async def _share_add(self, params: dict[str, Any]) -> Any:
        share = share_from_params(params, self.config)
        self._update_config(self.config.with_share(share))
        if share.id not in self.shares:
            await self._start_share(share)
        return {"id": str(share.id), "path": str(share.path)}

    async def _share_remove(self, params: dict[str, Any]) -> Any:
        share_id = ShareId.parse(str(params.get("share", "")))
        self._update_config(remove_share(self.config, params))
        service = self.shares.pop(share_id, None)
        if service is not None:
            self.watcher.remove_dir(docs_dir(service.root))
            await service.aclose()
            self._share_scopes.pop(share_id).cancel()
        return {"removed": str(share_id)}

    async def _member_add(self, params: dict[str, Any]) -> Any:
        config = add_member(self.config, params)
        self._update_config(config)
        device = DeviceId.parse(str(params.get("device")))
        self.peers.pending.pop(device, None)
        self.peers.refresh_dialers()
        return {"ok": True}

    async def _peer_add(self, params: dict[str, Any]) -> Any:
        self._update_config(add_peer(self.config, params))
        self.peers.refresh_dialers()
        return {"ok": True}

    def _share_and_guid(self, params: dict[str, Any]) -> tuple[ShareService, str]:
        share = self.shares.get(ShareId.parse(str(params.get("share", ""))))
        if share is None:
            raise ControlError("no such share", "not-found")
        return share, check_guid(str(params.get("doc", "")))

    async def _doc_apply(self, params: dict[str, Any]) -> Any:
        share, guid = self._share_and_guid(params)
        update = base64.b64decode(str(params.get("update", "")), validate=True)
        await share.local_update(guid, update)
        self.peers.request_flush()
        return {"ok": True}

    async def _doc_export(self, params: dict[str, Any]) -> Any:
        share, guid = self._share_and_guid(params)
        state = share.doc_state(guid)
        if state is None:
            raise ControlError(f"share {share.name} has no doc {guid!r}", "not-found")
        return {"update": base64.b64encode(state).decode()}


# -- config edits shared by the daemon and the CLI (when no daemon runs) -----------


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
    try:
        mode = FolderMode(str(params.get("mode", FolderMode.SEND_RECEIVE.value)))
    except ValueError:
        raise UsageError(f"unknown mode {params.get('mode')!r}") from None
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
