"""The composition root: the one place where the daemon's services are built and wired.

Nursery tree::

    Daemon.run
    ├── ControlServer.run          control socket for the CLI and GUI (methods in api.py)
    ├── PeerManager.run            dialers and the index flusher
    ├── PeerManager.serve          TCP listener → TLS handshakes → peer links
    ├── LanDiscovery.run           mDNS announce + browse (unless mdns is off)
    ├── DirWatcher.run             watchdog thread bridge
    ├── Daemon._watch_logs         applies what other processes append to logs
    ├── SyncProgress.run           share-in-sync events
    └── ShareService.run (each)    doc logs, writer tasks, sync engine

Cancelling ``run`` (SIGINT/SIGTERM in the CLI) lets each log writer finish what is
queued: every acknowledged update is already durable, and queued ones are flushed.
"""

from __future__ import annotations

import errno
import fcntl
import logging
import os
from dataclasses import replace

import trio

from p2psync.config import (
    DEFAULT_PORT,
    Config,
    ShareConfig,
    parse_address,
)
from p2psync.control.home import Home
from p2psync.daemon.api import ControlApi
from p2psync.daemon.apps import AppEndpoint
from p2psync.daemon.configedits import load_or_init_config
from p2psync.daemon.control import ControlServer, Handler
from p2psync.daemon.events import EventBus
from p2psync.daemon.membership import MembershipService
from p2psync.daemon.peers import PeerManager
from p2psync.daemon.progress import SyncProgress
from p2psync.daemon.registry import ShareRegistry
from p2psync.daemon.shares import ShareService
from p2psync.discovery import LanDiscovery
from p2psync.errors import ControlError, UsageError
from p2psync.ids import ShareId
from p2psync.mirror.chunkfile import chunking_of
from p2psync.net.identity import Identity, load_or_create_identity
from p2psync.protocol.connection import SUPPORTED_VERSIONS
from p2psync.storage.layout import docs_dir
from p2psync.storage.snapshotter import SnapshotWorker
from p2psync.watch import DirWatcher

log = logging.getLogger(__name__)


class Daemon:
    """One device's daemon. Build it, then ``await nursery.start(daemon.run)``."""

    def __init__(self, home: Home, *, listen: str | None = None, mdns: bool | None = None) -> None:
        self.home = home
        home.ensure()
        config = load_or_init_config(home)  # a broken one refused before anything is made
        self.identity: Identity = load_or_create_identity(home.identity_dir)
        # ``run --listen`` and ``--no-mdns`` override the file for this run only: the
        # file's own values are what a config change writes back.
        file_network = (config.listen, config.mdns)
        self._listen_given = listen is not None
        if listen is not None:
            parse_address(listen)
            config = replace(config, listen=listen)
        if mdns is not None:
            config = replace(config, mdns=mdns)
        self.events = EventBus()
        self.peers = PeerManager(
            self.identity, lambda: self.registry.config, lambda: self.registry.shares, self.events,
            membership=lambda: self.membership, awareness=lambda: self.apps,
        )  # fmt: skip
        self.watcher = DirWatcher()
        self.registry = ShareRegistry(
            home, config, self.events, file_network=file_network,
            build=self._build_share, logs=self.watcher, links=self.peers,
        )  # fmt: skip
        self.membership = MembershipService(
            self.registry, self.peers, self.identity.device_id, lambda: self.listen_address
        )
        self.registry.follow(self.membership)
        self.progress = SyncProgress(lambda: self.registry.shares, self.events)
        self.snapshots = SnapshotWorker()
        self.listen_address = ""
        self.discovery: LanDiscovery | None = None
        self.apps = (
            AppEndpoint(self.registry, own_mode=self.membership.own_mode,
                        flush=self.peers.request_flush, links=self.peers)
            if config.apps.enabled else None
        )  # fmt: skip
        self._app_listeners: list[trio.SocketListener] = []

    @property
    def config(self) -> Config:
        """The config the daemon runs with (``ShareRegistry.config``)."""
        return self.registry.config

    @property
    def shares(self) -> dict[ShareId, ShareService]:
        """The running shares (``ShareRegistry.shares``)."""
        return self.registry.shares

    async def run(self, *, task_status: trio.TaskStatus[str] = trio.TASK_STATUS_IGNORED) -> None:
        """Serve until cancelled; reports the bound listen address when ready.

        Another daemon on this home, a control socket that cannot be made (a home that
        cannot be written to), or an address that cannot be listened on, fails before
        any share is touched (a second daemon loading the shares would rewrite
        the first one's index files).
        """
        lock = self._lock_home()
        control = ControlServer(self.home.socket_path, self._handlers(), self.events)
        try:
            await control.bind()  # a daemon of an older version holds no lock
            listeners = await self._listen()
            if self.apps is not None:
                self._app_listeners = await self.apps.listen()
            try:
                async with trio.open_nursery() as nursery:
                    await self._serve(nursery, listeners, control, task_status)
            finally:
                await self.snapshots.aclose()
        finally:
            control.close()
            os.close(lock)

    def _lock_home(self) -> int:
        """Take the home's daemon lock (held until the returned descriptor is closed,
        or the process ends); raise ControlError if another daemon holds it."""
        fd = os.open(self.home.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise ControlError(
                f"another daemon is already running on {self.home.root}", "already-running"
            ) from None
        return fd

    async def _serve(
        self,
        nursery: trio.Nursery,
        listeners: list[trio.SocketListener],
        control: ControlServer,
        task_status: trio.TaskStatus[str],
    ) -> None:
        """Start every service in ``nursery``, then report readiness."""
        await nursery.start(self.watcher.run)
        await self.registry.start_all(nursery)
        await nursery.start(self.peers.run)
        nursery.start_soon(self.peers.serve, listeners)
        if self.config.mdns:
            self.discovery = LanDiscovery(
                self.identity.device_id, parse_address(self.listen_address), SUPPORTED_VERSIONS,
                held=lambda: list(self.registry.shares), found=self.peers.dialer.discovered,
                lost=self.peers.dialer.vanished, network_changed=self.peers.dialer.redial_now,
            )  # fmt: skip
            await nursery.start(self.discovery.run)
        nursery.start_soon(self._watch_logs)
        nursery.start_soon(self.registry.resume_returned)
        await nursery.start(self.progress.run)
        if self.apps is not None:
            await nursery.start(self.apps.server.run, self._app_listeners)
        await nursery.start(control.run)
        log.info("device %s listening on %s", self.identity.device_id, self.listen_address)
        self.events.publish("daemon-ready", listen=self.listen_address)
        task_status.started(self.listen_address)

    async def _listen(self) -> list[trio.SocketListener]:
        """Bind the configured address. Only the built-in default port, not given with
        ``--listen``, falls back to a free one: an address the user chose is used or
        refused (UsageError)."""
        host, port = parse_address(self.config.listen)
        try:
            listeners = await trio.open_tcp_listeners(port, host=host)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or port != DEFAULT_PORT or self._listen_given:
                raise UsageError(f"cannot listen on {self.config.listen}: {exc.strerror}") from exc
            log.warning("port %d is taken; listening on a free port instead", port)
            listeners = await trio.open_tcp_listeners(0, host=host)
        bound = listeners[0].socket.getsockname()
        self.listen_address = f"{host}:{bound[1]}"
        return listeners

    # -- shares ------------------------------------------------------------------

    def _build_share(self, config: ShareConfig) -> ShareService:
        """The service of one share, wired to the peers, snapshots and apps."""
        service = ShareService(
            config,
            self.events,
            send=self.peers.send,
            disconnect=self.peers.disconnect,
            room=self.peers.room,
            snapshots=self.snapshots,
            device=self.identity.device_id.digest,
            device_id=str(self.identity.device_id),
            idle_unload_s=self.config.idle_unload_s,
            chunking=chunking_of(self.config),
        )
        if self.apps is not None:
            service.on_app_updates = self.apps.updates_of(service.name)
        return service

    async def _watch_logs(self) -> None:
        """Apply records other local processes append to any share's logs."""
        while True:
            changed = sorted(await self.watcher.next_changes())
            # a share removed meanwhile is not in the list any more
            shares = {docs_dir(service.root): service for service in self.registry.shares.values()}
            for path in changed:
                service = shares.get(path.parent)
                if service is not None:
                    await service.log_changed(path)
            self.peers.request_flush()

    # -- control API (the methods live in p2psync/daemon/api.py) -------------------

    def _handlers(self) -> dict[str, Handler]:
        return ControlApi(self).handlers()
