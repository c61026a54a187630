"""The daemon's side of the apps endpoint (docs/apps.md): rooms are the text files and
``.ydoc`` app docs of its shares, and ``doc url`` tells an app where to connect (also
for an app doc that does not exist yet: an app's first write makes it).

``AppEndpoint`` binds the listener (loopback by default; another address only because
the config says so, with a warning), hands ``apps.server.AppServer`` the rooms it may
open and tells each share to report its docs' changes to the server. It also carries
presence across the LAN: the awareness states of local apps go to the peers that are
members of the doc's share and speak protocol version 3 (``Awareness`` frames), and
theirs come to the local apps (``apps.presence`` holds them).
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import os
from collections.abc import Callable, Mapping
from pathlib import Path, PurePosixPath
from typing import Any, Protocol
from urllib.parse import quote

import trio

from p2psync.apps.presence import PresenceLimits
from p2psync.apps.server import (
    CLOSE_NOT_FOUND,
    CLOSE_NOT_TEXT,
    AppServer,
    RoomDoc,
    RoomRefusedError,
)
from p2psync.apps.tokens import doc_token, load_or_create_secret
from p2psync.config import DEFAULT_APPS_PORT, AppsConfig, FolderMode
from p2psync.control.replies import AppClients, DocUrlReply
from p2psync.daemon.mirror import MirrorService
from p2psync.daemon.peerinfo import Link, Queued
from p2psync.daemon.registry import ShareRegistry
from p2psync.daemon.shares import ShareService
from p2psync.errors import InvalidIdError, UsageError
from p2psync.ids import DeviceId, ShareId
from p2psync.mirror.chunked import chunk_key
from p2psync.mirror.kinds import FileKind
from p2psync.mirror.manifest import Entry
from p2psync.mirror.paths import is_share_path
from p2psync.mirror.ydocfile import is_ydoc_path
from p2psync.protocol.messages import MAX_AWARENESS_ENTRIES, Awareness, AwarenessState
from p2psync.replica.doc import DocReplica

log = logging.getLogger(__name__)

KEY_FILE = "apps.key"
"""The per-device secret tokens are derived from, in the home's state directory."""
EMPTY_STATE_VECTOR = b"\x00"
EMPTY_UPDATE = b"\x00\x00"
NEW_APP_DOC_WAIT_S = 10.0
"""How long ``doc url`` waits for the mirror to take in an app doc's new file."""
AWARENESS_VERSION = 3
"""The lowest protocol version whose peers take Awareness frames."""


class PresenceLinks(Protocol):
    """What presence needs of the connections (``PeerManager``)."""

    @property
    def links(self) -> Mapping[DeviceId, Link]: ...

    @property
    def paused_shares(self) -> set[ShareId]: ...

    def send(self, device: object, message: Queued) -> None: ...


def kind_refusal(path: str, kind: FileKind) -> str | None:
    """Why the file ``path`` of kind ``kind`` cannot be a room, or None if it can."""
    if kind is FileKind.BINARY:
        return f"{path} is a binary file: apps edit text files only"
    if kind is FileKind.CHUNKED:
        return f"{path} is a large text file stored in chunks over many docs, and a room is one doc"
    return None


class ShareRoomDoc:
    """One text file's doc as a room (``apps.server.RoomDoc``); it stays in memory
    while the room is open."""

    def __init__(self, service: ShareService, guid: str, endpoint: AppEndpoint) -> None:
        self._service = service
        self._guid = guid
        self._endpoint = endpoint
        service.app_docs[guid] += 1

    def _doc(self) -> DocReplica | None:
        return self._service.doc(self._guid)

    def read_only(self) -> str | None:
        mode = self._endpoint.own_mode(self._service.config.id)
        if mode == FolderMode.RECEIVE_ONLY.value:
            return "this device is a receive-only member of the share: edits are refused"
        return None

    def state_vector(self) -> bytes:
        doc = self._doc()
        return doc.state_vector() if doc is not None else EMPTY_STATE_VECTOR

    def full_state(self) -> bytes:
        doc = self._doc()
        return doc.full_state() if doc is not None else EMPTY_UPDATE

    def diff(self, state_vector: bytes) -> bytes:
        doc = self._doc()
        return (doc or DocReplica(self._guid)).diff(state_vector)

    async def apply(self, update: bytes, origin: object) -> bool:
        held = await self._service.app_update(self._guid, update, origin)
        self._endpoint.flush()
        return held

    def close(self) -> None:
        docs = self._service.app_docs
        docs[self._guid] -= 1
        if docs[self._guid] <= 0:
            del docs[self._guid]


def path_room(service: MirrorService, path: str) -> str | None:
    """The doc of ``.ydoc`` path ``path`` that is no file yet (nothing on disk, no
    live entry): the doc named by the path, made by an app's first write and then
    taken in as that file (``Keeper.adopt_path_named_docs``), here and on every peer.
    None if that name is another file's doc (a path-named doc renamed since). Raises
    UsageError if the path is ignored."""
    _refuse_ignored(service, path)
    named = service.mirror.view.by_guid.get(path)
    if named is not None and named.path != path:
        return None
    return path


def _refuse_ignored(service: MirrorService, path: str) -> None:
    """UsageError if the share's ignore rules leave out ``path``."""
    if service.mirror.ignore.ignored(path, False):
        raise UsageError(f"{path} is ignored by the share's .p2psyncignore")


def may_be_path_room(service: MirrorService, guid: str) -> bool:
    """Whether a room may open on ``guid`` although no live file has that doc: it is
    the doc of a ``.ydoc`` path that is no file yet (``path_room``)."""
    if not (is_ydoc_path(guid) and is_share_path(guid)) or guid in service.mirror.view.by_path:
        return False
    try:
        return path_room(service, guid) == guid
    except UsageError:
        return False


async def _refuse_no_file_place(service: MirrorService, path: str) -> None:
    """UsageError if share path ``path`` can hold no file an app edits: it is a folder
    (one named ``x.ydoc`` would otherwise be waited for as a new app doc's file), or a
    folder on its way is a file or a symlink (an app doc there could never be written)."""
    why = await trio.to_thread.run_sync(_no_file_place, service.root, path)
    if why is not None:
        raise UsageError(why)


def _no_file_place(root: Path, path: str) -> str | None:
    """Why ``path`` under ``root`` can hold no file (``_refuse_no_file_place``), or None."""
    where = root / path
    if where.is_dir() and not where.is_symlink():
        return f"{path} is a folder: apps edit text files and app docs (.ydoc)"
    for parent in PurePosixPath(path).parents[:-1]:  # the last is the share's folder
        place = root / parent
        if place.is_symlink() or (place.exists() and not place.is_dir()):
            what = "a symlink" if place.is_symlink() else "a file"
            return f"{path} cannot be a file of the share: {parent} is {what}, not a folder"
    return None


def room_path(service: MirrorService, guid: str) -> str | None:
    """The path of the file whose doc is ``guid``, for status and events: its entry's,
    or, for the doc of a ``.ydoc`` path that is no file yet (``path_room``), that path;
    None if neither."""
    entry = service.mirror.view.by_guid.get(guid)
    if entry is not None:
        return entry.path
    return guid if may_be_path_room(service, guid) else None


async def taken_in(service: MirrorService, path: str) -> Entry:
    """The entry of the ``.ydoc`` file at ``path`` once the mirror has taken it in (it
    is on disk, not in the manifest yet). Raises UsageError if it is not taken."""
    mirror = service.mirror
    _refuse_ignored(service, path)
    with trio.move_on_after(NEW_APP_DOC_WAIT_S):
        while (entry := mirror.view.by_path.get(path)) is None:
            reasons = [p["reason"] for p in mirror.problems.listing() if p["path"] == path]
            if reasons:
                raise UsageError(f"{path}: {reasons[0]}")
            await trio.sleep(0.02)
        return entry
    raise UsageError(f"{path} is not synced yet: try again in a moment")


class AppEndpoint:
    """The endpoint of one daemon: its listener, its server, the rooms it may open.

    ``own_mode`` is this device's mode in a share (``MembershipService.own_mode``);
    ``flush`` asks for the index deltas an app's edit makes to be sent."""

    def __init__(
        self,
        registry: ShareRegistry,
        *,
        own_mode: Callable[[ShareId], str],
        flush: Callable[[], None],
        links: PresenceLinks,
    ) -> None:
        self._registry = registry
        self.own_mode = own_mode
        self.flush = flush
        self._links = links
        self.config: AppsConfig = registry.config.apps
        self.secret = load_or_create_secret(registry.home.state_dir / KEY_FILE)
        presence = PresenceLimits(timeout_s=self.config.awareness_timeout_s)
        self.server = AppServer(self, self.secret, allowed_origins=self.config.allowed_origins,
                                presence=presence)  # fmt: skip
        self.port: int | None = None

    async def listen(self) -> list[trio.SocketListener]:
        """Bind ``[apps]`` bind and port; the default port falls back to a free one.
        Raises UsageError if the configured address cannot be listened on."""
        host, port = self.config.bind, self.config.port
        if not self.config.loopback:
            log.warning("apps: listening on %s, which is not loopback: any device that can "
                        "reach it may try tokens ([apps] bind in the config)", host)  # fmt: skip
        try:
            listeners = await trio.open_tcp_listeners(port, host=host)
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or port != DEFAULT_APPS_PORT:
                raise UsageError(
                    f"cannot listen for apps on {host}:{port}: {exc.strerror}"
                ) from exc
            log.warning("apps: port %d is taken; listening on a free port instead", port)
            listeners = await trio.open_tcp_listeners(0, host=host)
        self.port = listeners[0].socket.getsockname()[1]
        log.info("apps: y-websocket endpoint on %s", self.server_url())
        return listeners

    def server_url(self) -> str:
        host = ipaddress.ip_address(self.config.bind)
        if host.is_unspecified:
            host = ipaddress.ip_address("::1" if host.version == 6 else "127.0.0.1")
        shown = f"[{host}]" if host.version == 6 else str(host)
        return f"ws://{shown}:{self.port}"

    def updates_of(self, share: str) -> Any:
        """What a share calls with its docs' changes (``ShareService.on_app_updates``)."""

        def updated(guid: str, updates: list[bytes], origin: object) -> None:
            self.server.doc_updated(share, guid, updates, origin)
            if (refusal := self._outgrown(share, guid)) is not None:
                self.server.close_room(share, guid, CLOSE_NOT_TEXT, refusal)

        return updated

    def _outgrown(self, share: str, guid: str) -> str | None:
        """Why the room of text doc ``guid`` must close, if the doc is now a chunked
        text's root (its file outgrew one doc, here or on a peer): the app would see
        and edit its first chunk only. Told by the doc itself, which lists itself as
        a chunk (``chunked.convert``) before the manifest says ``chunked``."""
        service = self._service(share)
        mirror = service.mirror if service is not None else None
        entry = mirror.mirror.view.by_guid.get(guid) if mirror is not None else None
        doc = service.doc(guid) if service is not None else None
        if entry is None or entry.kind is FileKind.YDOC or doc is None:
            return None
        if entry.kind is not FileKind.CHUNKED and chunk_key(doc.ydoc, guid, guid) is None:
            return None
        return kind_refusal(entry.path, FileKind.CHUNKED)

    # -- rooms (apps.server.RoomBackend) ------------------------------------------

    def open_room(self, share: str, guid: str) -> RoomDoc:
        service = self._service(share)
        if service is None:
            raise RoomRefusedError(CLOSE_NOT_FOUND, "this device has no such share")
        mirror = service.mirror
        entry = mirror.mirror.view.by_guid.get(guid) if mirror is not None else None
        if entry is None or entry.deleted:
            if mirror is not None and may_be_path_room(mirror, guid):
                return ShareRoomDoc(service, guid, self)  # an app doc its first write makes
            raise RoomRefusedError(CLOSE_NOT_FOUND, "no file of the share has this doc")
        refusal = kind_refusal(entry.path, entry.kind)
        if refusal is not None:
            raise RoomRefusedError(CLOSE_NOT_TEXT, refusal)
        return ShareRoomDoc(service, guid, self)

    def clients_changed(self, share: str, guid: str, clients: int, *, joined: bool) -> None:
        """``app-connected`` / ``app-disconnected``: which file, how many apps now."""
        service = self._service(share)
        mirror = service.mirror if service is not None else None
        path = room_path(mirror, guid) if mirror is not None else None
        self._registry.events.publish(
            "app-connected" if joined else "app-disconnected",
            share=share, path=path or "", clients=clients,
        )  # fmt: skip

    # -- presence across the LAN ------------------------------------------------------

    def relay_awareness(self, share: str, guid: str, states: list[AwarenessState]) -> None:
        """Local apps' awareness states changed: to the share's linked members."""
        service = self._service(share)
        if service is not None:
            self._tell_peers(service, guid, states)

    def peer_awareness(self, device: DeviceId, message: Awareness) -> None:
        """States from ``device``'s apps: taken only from a member of the share, for a
        doc of it that can be a room; what is taken goes to the local apps and on to
        the share's other members (flooded as updates are; a state is passed on only
        the first time it is taken, so the flood ends)."""
        service = self._registry.shares.get(ShareId(message.share_id))
        if service is None or service.config.member(device) is None:
            return
        if service.config.id in self._links.paused_shares:
            return
        mirror = service.mirror
        entry = mirror.mirror.view.by_guid.get(message.guid) if mirror is not None else None
        if entry is None or entry.deleted or kind_refusal(entry.path, entry.kind) is not None:
            return  # no room can show it
        taken = self.server.peer_awareness(service.name, message.guid, str(device),
                                           message.states)  # fmt: skip
        if taken:
            self._tell_peers(service, message.guid, taken, skip=device)

    def peer_link_up(self, device: DeviceId, version: int) -> None:
        """A link is up: tell it the states of this device's apps in its shares."""
        if version < AWARENESS_VERSION:
            return
        for (share, guid), _ in list(self.server.presence.docs.items()):
            service = self._service(share)
            states = self.server.presence.states((share, guid), local=True)
            if service is not None and states:
                self._tell_peers(service, guid, states, only=device)

    def _tell_peers(
        self,
        service: ShareService,
        guid: str,
        states: list[AwarenessState],
        *,
        skip: DeviceId | None = None,
        only: DeviceId | None = None,
    ) -> None:
        share = service.config
        if share.id in self._links.paused_shares:
            return
        for device, link in list(self._links.links.items()):
            if device == skip or (only is not None and device != only):
                continue
            if share.member(device) is None or link.channel.version < AWARENESS_VERSION:
                continue
            for start in range(0, len(states), MAX_AWARENESS_ENTRIES):
                part = tuple(states[start : start + MAX_AWARENESS_ENTRIES])
                self._links.send(device, Awareness(share.id.raw, guid, part))

    def _service(self, share: str) -> ShareService | None:
        try:
            return self._registry.shares.get(ShareId.parse(share))
        except InvalidIdError:
            return None

    # -- doc url ----------------------------------------------------------------------

    def clients_of(self, service: ShareService) -> list[AppClients]:
        """The files of ``service`` that apps are connected to, and how many each."""
        mirror = service.mirror
        found = []
        for (share, guid), clients in sorted(self.server.clients().items()):
            path = room_path(mirror, guid) if mirror is not None else None
            if share == service.name and path is not None and clients:
                found.append(AppClients(path=path, clients=clients))
        return found

    async def url_of(self, service: ShareService, path: str) -> DocUrlReply:
        """Where an app connects for the file at share path ``path`` (``doc.url``):
        ``server``, ``room``, ``params`` (the token) and the whole ``url``. A ``.ydoc``
        path with no file yet is the room of the doc named by the path, and nothing is
        made: an app's first write makes the doc and its file (``path_room``)."""
        if self.port is None:
            raise UsageError("the apps endpoint is off ([apps] enabled = false in the config)")
        mirror = service.mirror
        entry = mirror.mirror.view.by_path.get(path) if mirror is not None else None
        guid = entry.guid if entry is not None else None
        if entry is None and mirror is not None:
            await _refuse_no_file_place(mirror, path)
        if entry is None and mirror is not None and is_ydoc_path(path):
            if await trio.to_thread.run_sync(os.path.lexists, mirror.root / path):
                entry = await taken_in(mirror, path)
                guid = entry.guid
            else:
                guid = path_room(mirror, path)
        if guid is None:
            raise UsageError(f"{path} is not a file synced in share {service.name}")
        refusal = kind_refusal(path, entry.kind) if entry is not None else None
        if refusal is not None:
            raise UsageError(refusal)
        token = doc_token(self.secret, service.name, guid)
        server = self.server_url()
        room = f"{service.name}/{quote(guid, safe='')}"
        return {"server": server, "room": room, "params": {"token": token},
                "url": f"{server}/{room}?token={token}"}  # fmt: skip
