"""The running shares and the config they run with.

``ShareRegistry`` is the one place a share starts and stops and the config changes:
the control API, joins, membership and the apps endpoint depend on it rather than on
the whole daemon. Whoever must follow the config (membership) registers with
``follow``; the registry knows the peers only as ``ShareLinks`` and the log watcher
only as ``LogDirs``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from functools import partial
from pathlib import Path
from typing import Protocol

import trio

from p2psync.config import Config, ShareConfig, save_config
from p2psync.control.errorcodes import NotFoundError
from p2psync.control.home import Home
from p2psync.daemon.events import EventBus
from p2psync.daemon.mirror import MARKER_CHECK_S
from p2psync.daemon.sharefolders import UNTIL_RESTART, Unfit, adopt_old_home, prepare
from p2psync.daemon.shares import ShareService
from p2psync.errors import UsageError
from p2psync.ids import DeviceId, ShareId
from p2psync.storage.folderlock import lock_share_folder
from p2psync.storage.layout import docs_dir, marker_dir

log = logging.getLogger(__name__)


class LogDirs(Protocol):
    """Where other processes' appends to the logs are watched (``DirWatcher``)."""

    def add_dir(self, path: Path) -> None: ...

    def remove_dir(self, path: Path) -> None: ...


class ShareLinks(Protocol):
    """What a starting or stopping share needs of the peers (``PeerManager``)."""

    @property
    def links(self) -> Mapping[DeviceId, object]: ...

    @property
    def paused_shares(self) -> set[ShareId]: ...


class ConfigFollower(Protocol):
    """Told every config change and every share started (``MembershipService``)."""

    def config_changed(self, old: Config, new: Config) -> None: ...

    def share_started(self, service: ShareService) -> None:
        """``service``'s engine runs, no peer is up on it yet: give it its policy."""

    def apply_policies(self) -> None: ...


class Retries:
    """When a share whose mirror failed starts again: ``FIRST_RETRY_S`` after its first
    failure, each later failure waiting twice as long, up to ``MAX_RETRY_S``."""

    FIRST_RETRY_S = 5.0
    MAX_RETRY_S = 600.0

    def __init__(self) -> None:
        self._failures: dict[ShareId, int] = {}
        self._due: dict[ShareId, float] = {}

    def due(self, share_id: ShareId, now: float) -> bool:
        """Whether the failed share ``share_id`` starts again at ``now``; the first
        call after a failure sets when."""
        if share_id not in self._due:
            failures = self._failures.get(share_id, 0)
            self._failures[share_id] = failures + 1
            wait = min(self.FIRST_RETRY_S * 2**failures, self.MAX_RETRY_S)
            self._due[share_id] = now + wait
            log.info("share %s: starts again in %.1f s (failure %d)", share_id, wait,
                     failures + 1)  # fmt: skip
        if now < self._due[share_id]:
            return False
        del self._due[share_id]
        return True


class ShareRegistry:
    """The config of one daemon and the shares it serves."""

    def __init__(
        self,
        home: Home,
        config: Config,
        events: EventBus,
        *,
        file_network: tuple[str, bool],
        build: Callable[[ShareConfig], ShareService],
        logs: LogDirs,
        links: ShareLinks,
    ) -> None:
        self.home = home
        self.config = config
        self.events = events
        self.shares: dict[ShareId, ShareService] = {}
        self._file_network = file_network
        """The file's ``listen`` and ``mdns``: ``run --listen`` and ``--no-mdns`` override
        them for this run only, and a config change writes the file's values back."""
        self._build = build
        self._logs = logs
        self._links = links
        self._followers: list[ConfigFollower] = []
        self._nursery: trio.Nursery | None = None
        self._retries = Retries()

    def follow(self, follower: ConfigFollower) -> None:
        """Tell ``follower`` every config change and every share started from now on."""
        self._followers.append(follower)

    def share(self, params: Mapping[str, object]) -> ShareService:
        """The running share a request's ``share`` param names; NotFoundError if none."""
        share_id = ShareId.parse(str(params.get("share", "")))
        share = self.shares.get(share_id)
        if share is None:
            raise NotFoundError(f"this device has no share {share_id}")
        return share

    # -- config ------------------------------------------------------------------

    def update_config(self, config: Config) -> None:
        """Save ``config`` and apply it to the running shares."""
        listen, mdns = self._file_network
        save_config(self.home.config_path, replace(config, listen=listen, mdns=mdns))
        old, self.config = self.config, config
        for service in self.shares.values():
            share = config.share(service.config.id)
            if share is not None:
                service.config = share
        for follower in self._followers:
            follower.config_changed(old, config)

    # -- shares ------------------------------------------------------------------

    async def start_all(self, nursery: trio.Nursery) -> None:
        """Start every configured share in ``nursery`` (where later ones start too)."""
        self._nursery = nursery
        try:
            await trio.to_thread.run_sync(adopt_old_home, self.home, self.config.shares)
        except OSError as exc:
            log.error("cannot record the shares set up in %s: %s", self.home.state_dir, exc)
        for share in self.config.shares:
            await self._start(share)
        for follower in self._followers:
            follower.config_changed(self.config, self.config)  # offline edits, modes

    async def start_share(self, config: ShareConfig, *, joined: bool = False) -> None:
        """Start serving a share that was just added to the config. A share whose
        folder is not fit is held stopped (``_start``). One just ``joined`` has its
        folder's marker made whatever the home remembers of the share (it may have
        been removed and its folder deleted since), and is not started if its folder
        is not fit: UsageError says why."""
        await self._start(config, joined=joined)
        for follower in self._followers:
            follower.apply_policies()

    async def _start(self, config: ShareConfig, *, joined: bool = False) -> None:
        """Start ``config``'s share; held stopped instead (``ShareService.hold``) if its
        folder is not fit (``sharefolders.prepare``): missing or without its marker
        once set up here (then ``resume_returned`` starts it once the folder with its
        marker is back), a file, or one that cannot be made."""
        assert self._nursery is not None
        unfit = await trio.to_thread.run_sync(partial(prepare, self.home, config, new=joined))
        lock = None
        if unfit is None:
            lock, unfit = await trio.to_thread.run_sync(_lock_folder, config)
        if unfit is not None and joined:
            raise UsageError(unfit.why)
        service = self._build(config)
        service.folder_lock = lock
        if unfit is not None:
            message = unfit.sentence()
            log.error("%s", message)
            self.events.publish("error", share=service.name, message=message)
            service.hold(message)
        await self._nursery.start(service.run)
        self.shares[config.id] = service
        for follower in self._followers:
            follower.share_started(service)
        if unfit is not None:
            return
        self._logs.add_dir(docs_dir(config.path))
        for device in self._links.links:
            if config.member(device) and config.id not in self._links.paused_shares:
                await service.execute(service.peer_up(device))

    async def stop_share(self, share_id: ShareId) -> None:
        """Stop serving a share (its logs are flushed; files stay on disk); returns
        once it has stopped (``ShareService.aclose``)."""
        self._links.paused_shares.discard(share_id)
        await self._close(share_id)

    async def _close(self, share_id: ShareId) -> None:
        service = self.shares.pop(share_id, None)
        if service is not None:
            self._logs.remove_dir(docs_dir(service.root))
            await service.aclose()

    async def resume_returned(self) -> None:
        """Start again, afresh, a share that stopped because its folder lost its
        ``.p2psync`` marker (or was missing, or without it, at the start), once the
        marker is back (the folder moved back, the disk mounted again), and one whose
        mirror failed, after a wait that doubles each time it fails again
        (``Retries``): what happened meanwhile is then read as after a restart."""
        while True:
            await trio.sleep(MARKER_CHECK_S)
            for share_id, service in list(self.shares.items()):
                if not service.stopped:
                    continue
                if service.mirror is not None and service.mirror.failed:
                    if not self._retries.due(share_id, trio.current_time()):
                        continue
                elif not await trio.to_thread.run_sync(marker_dir(service.root).is_dir):
                    continue
                config = self.config.share(share_id)
                await self._close(share_id)
                if config is not None:
                    log.info("share %s: starts again, in %s", service.name, config.path)
                    self.events.publish("share-resumed", share=service.name, path=str(config.path))
                    await self.start_share(config)


def _lock_folder(config: ShareConfig) -> tuple[int | None, Unfit | None]:
    """The lock of ``config``'s share folder (``storage.folderlock``), or why the
    share may not start: another daemon runs that folder, or the lock cannot be
    taken. Blocking: run it in a worker thread."""
    try:
        lock = lock_share_folder(config.path)
    except OSError as exc:
        why = f"share {config.id}: cannot lock its folder {config.path}: {exc.strerror or exc}"
        return None, Unfit(why, UNTIL_RESTART)
    if lock is None:
        why = (f"share {config.id}: another p2psync daemon (of another home) runs its folder "
               f"{config.path}; two writing one share folder would damage it")  # fmt: skip
        return None, Unfit(why, UNTIL_RESTART)
    return lock, None
