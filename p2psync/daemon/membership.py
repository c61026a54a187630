"""Membership at run time: invites accepted, member maps exchanged, modes enforced.

The one place that turns membership events into config changes and back
(docs/security.md, *Membership*):

- a joiner that proved an invite's secret (net.transport) is added as a member of
  the invite's share, and the invite is consumed (daemon.invites);
- each share's member map (replica.membership.MemberMap, ``state/members/<share>.json``)
  follows the local config: every config change is reconciled into it, and a changed
  map is sent to the share's connected members (MemberList, protocol version 2);
- a MemberList from a send-receive member is merged, and what changed becomes the
  local config (new members accepted, removed ones dropped);
- a member dropped from a share is cut off at once: the share forgets the peer and the
  link is closed (it reconnects for its other shares, if any);
- a device removed from a share is told so on each of its links: a MemberList of the
  entry about it alone; a device told so by a member exchanges nothing of the share
  with that member any more, shows it as having removed this device and keeps its
  files, until the member gives it a mode again (``removed_by``);
- each running share's sync engine gets the members' modes (``MemberPolicy``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from p2psync.config import Config, FolderMode, Member, PeerConfig, ShareConfig
from p2psync.daemon.acceptor import Acceptor
from p2psync.daemon.dialer import Dialer
from p2psync.daemon.invites import InviteStore, invite_addresses
from p2psync.daemon.memberaddresses import pairs_to_send
from p2psync.daemon.peerinfo import Link, Queued
from p2psync.daemon.registry import ShareRegistry
from p2psync.daemon.sharefolders import members_dir
from p2psync.daemon.shares import ShareService
from p2psync.errors import P2PSyncError
from p2psync.ids import DeviceId, ShareId
from p2psync.protocol.messages import MemberEntry, MemberList
from p2psync.replica.membership import REMOVED, MemberMap, MemberPolicy, may_change_members
from p2psync.storage.fileops import write_file_atomically

log = logging.getLogger(__name__)

MEMBER_LISTS_VERSION = 2
"""The lowest protocol version whose peers understand MemberList frames."""
MAX_MAP_FILE_BYTES = 1024 * 1024


class MemberLinks(Protocol):
    """What membership needs of the connections (``PeerManager``)."""

    @property
    def links(self) -> Mapping[DeviceId, Link]: ...

    @property
    def acceptor(self) -> Acceptor: ...

    @property
    def paused_shares(self) -> set[ShareId]: ...

    def send(self, device: object, message: Queued) -> None: ...

    def disconnect(self, device: object, reason: str, *, penalty: bool = False) -> None: ...

    def start_share_sync(self, device: DeviceId, share: ShareService) -> None: ...

    @property
    def dialer(self) -> Dialer: ...


class MembershipService:
    """Membership of every share of one daemon (see the module docstring)."""

    def __init__(
        self,
        registry: ShareRegistry,
        peers: MemberLinks,
        us: DeviceId,
        listen_address: Callable[[], str],
    ) -> None:
        self._registry = registry
        self._peers = peers
        self._us = us
        self._listen_address = listen_address
        self.invites = InviteStore(registry.home.state_dir)
        self._dir = members_dir(registry.home)
        self._maps: dict[ShareId, MemberMap] = {}
        self._own: dict[str, tuple[str, ...]] = {}
        """Listen address -> the addresses we tell members we listen at."""
        self._removed_by: dict[ShareId, set[DeviceId]] = {}
        """Share -> the members that removed this device from it (``removed_by``)."""

    # -- config <-> maps ---------------------------------------------------------

    def config_changed(self, old: Config, new: Config) -> None:
        """After every config change: reconcile the maps, send the changed ones, cut
        off removed members, and give each share its members' modes."""
        for share in new.shares:
            member_map = self._map(share.id)
            if member_map.reconcile(_configured(share), us=self._us.digest, seed=False):
                self._save(share.id, member_map)
                self._broadcast(share)
        for share in old.shares:
            now = new.share(share.id)
            for member in share.members:
                if now is None or now.member(member.device_id) is None:
                    self._cut_off(share.id, member.device_id)
        self.apply_policies()
        for share in new.shares:
            before = old.share(share.id)
            for member in share.members:
                if before is not None and before.member(member.device_id) is None:
                    self._bring_up(share.id, member.device_id)

    def share_started(self, service: ShareService) -> None:
        """A share's engine started (its persisted index read, no peer up yet): it
        takes first the modes it last ran with, as its member map file holds them
        (what it remembers of each peer's index was recorded under them), then the
        configured ones as a change. So a member made one we take from while the
        daemon was down (its config edited offline) is treated as a live change
        (``ShareSync.change_policy``): the docs we refused it are asked for."""
        share_id = service.config.id
        ran_with = self._map(share_id).members(exclude=self._us.digest)
        own = FolderMode(self.own_mode(share_id))
        service.sync.change_policy(  # no peer is up: it asks nothing
            MemberPolicy(own, {DeviceId(device): mode for device, mode in ran_with.items()})
        )
        service.effects.ask(service.sync.change_policy(self._policy(service)))
        service.removed_by = self.removed_by(share_id)

    def removed_by(self, share_id: ShareId) -> set[DeviceId]:
        """The members that told us they removed this device from ``share_id`` (the
        running share's ``removed_by`` is this set). At the start, the member that set
        our entry in the map to ``removed``: the others tell us again on their links."""
        held = self._removed_by.get(share_id)
        if held is None:
            ours = self._map(share_id).entries.get(self._us.digest)
            held = self._removed_by[share_id] = set()
            if ours is not None and ours.mode == REMOVED and ours.setter != self._us.digest:
                held.add(DeviceId(ours.setter))
        return held

    def apply_policies(self) -> None:
        """Give every running share's sync engine the current modes."""
        for service in self._registry.shares.values():
            service.effects.ask(service.sync.change_policy(self._policy(service)))

    def _policy(self, service: ShareService) -> MemberPolicy:
        """The modes of ``service``'s share as configured, and ours."""
        own = FolderMode(self.own_mode(service.config.id))
        return MemberPolicy(own, {m.device_id: m.mode for m in service.config.members})

    def own_mode(self, share_id: ShareId) -> str:
        """Our mode in ``share_id`` as the other members set it (send-receive by default)."""
        own = self._map(share_id).mode_of(self._us.digest)
        return own if own not in (None, REMOVED) else FolderMode.SEND_RECEIVE.value

    def _bring_up(self, share_id: ShareId, device: DeviceId) -> None:
        """A new member already connected (for another share): sync this one on the
        same link now, rather than at its next connection."""
        service = self._registry.shares.get(share_id)
        peers = self._peers
        if (
            service is not None
            and device in peers.links
            and device not in service.sync.peers()
            and share_id not in peers.paused_shares
        ):
            peers.start_share_sync(device, service)

    def _cut_off(self, share_id: ShareId, device: DeviceId) -> None:
        """``device`` left ``share_id``: a link syncing the share is closed (what is
        queued on it may be of the share) and the device is told on its next link
        (``link_up``); one not syncing it is told now."""
        service = self._registry.shares.get(share_id)
        if service is not None and device in service.sync.peers():
            service.peer_down(device)  # nothing more of the share is queued for it
            self._peers.disconnect(device, f"removed from share {share_id}")
            log.info("peer %s removed from share %s: cut off", device.short(), share_id)
        elif device in self._peers.links:
            self._tell_removed(device, share_id)

    # -- peers -------------------------------------------------------------------

    def accept_join(self, device: DeviceId, verifier: bytes) -> str | None:
        """``device`` proved the secret of the invite ``verifier`` names: consume the
        invite and make it a member of its share with the invite's mode (a member
        already keeps its mode). None to accept it, ``bad-invite`` if the invite is
        unknown, used or expired (or its share gone)."""
        try:
            used = self.invites.consume(verifier, now=time.time())
        except P2PSyncError as exc:
            log.error("cannot check an invite: %s", exc)
            return "bad-invite"
        d = self._registry
        share = d.config.share(used.share_id) if used is not None else None
        if used is None or share is None:
            return "bad-invite"
        share_id = used.share_id
        config = d.config
        if share.member(device) is None:  # a member already keeps its mode: no promotion
            joiner = Member(device, used.mode)
            config = config.with_share(replace(share, members=(*share.members, joiner)))
        if config.peer(device) is None:
            config = config.with_peer(PeerConfig(device))
        d.update_config(config)
        log.info("device %s joined share %s with an invite", device.short(), share_id)
        d.events.publish("member-joined", share=str(share_id), device=str(device))
        return None

    def link_up(self, device: DeviceId, version: int) -> None:
        """A link is up: send it the map of every share it is a member of."""
        if version < MEMBER_LISTS_VERSION:
            return
        for share in self._registry.config.shares:
            if share.member(device) is None:
                self._tell_removed(device, share.id)
            elif device not in self.removed_by(share.id):  # it would ignore ours
                self._send_map(device, share.id)

    def _tell_removed(self, device: DeviceId, share_id: ShareId) -> None:
        """Tell ``device`` it is removed from ``share_id`` if our map says so: the
        entry about it alone, nothing of the other members."""
        entry = self._map(share_id).entries.get(device.digest)
        link = self._peers.links.get(device)
        if link is None or link.channel.version < MEMBER_LISTS_VERSION:
            return
        if entry is not None and entry.mode == REMOVED:
            told = MemberEntry(device.digest, entry.mode, entry.clock, entry.setter)
            self._peers.send(device, MemberList(share_id.raw, (told,), ()))

    def receive(self, device: DeviceId, message: MemberList) -> None:
        """Merge a member list from a send-receive member of its share; anything else
        is ignored (logged): a receive-only member or a non-member adds no one."""
        d = self._registry
        share = d.config.share(ShareId(message.share_id))
        member = share.member(device) if share is not None else None
        if share is not None and member is not None:
            self._told_about_us(share.id, device, message)
        if share is None or not may_change_members(member.mode if member else None):
            log.warning("ignored a member list of share %s from %s: not a send-receive member",
                        ShareId(message.share_id), device.short())  # fmt: skip
            return
        member_map = self._map(share.id)
        before = (member_map.members(), member_map.mode_of(self._us.digest))
        merged = member_map.merge(message.entries)
        if merged:
            self._save(share.id, member_map)
        if merged and (member_map.members(), member_map.mode_of(self._us.digest)) != before:
            log.info("share %s: members changed by %s", share.id, device.short())
            d.update_config(self._config_from_map(d.config, share, member_map))
        now = d.config.share(share.id) or share
        members = {m.device_id for m in now.members}
        if self._peers.dialer.members_told(device, message.addresses, members) or merged:
            self._broadcast(now)  # a new member, or new addresses of the sender

    def _told_about_us(self, share_id: ShareId, device: DeviceId, message: MemberList) -> None:
        """What member ``device``'s list says of this device: ``removed`` (it removed
        us: the share stops exchanging with it, ``removed-from-share`` says so), or a
        mode again after that (the exchange starts again)."""
        ours = next((e for e in message.entries if e.device == self._us.digest), None)
        removed_by = self.removed_by(share_id)
        if ours is None or (ours.mode == REMOVED) == (device in removed_by):
            return
        if ours.mode != REMOVED:
            removed_by.discard(device)
            log.info("share %s: %s made this device a member again", share_id, device.short())
            self._bring_up(share_id, device)
            return
        removed_by.add(device)
        service = self._registry.shares.get(share_id)
        if service is not None:
            service.peer_down(device)
        message_text = (f"{device.short()} removed this device from the share {share_id}: "
                        "nothing of it is exchanged with that member any more, and the files "
                        "here stay")  # fmt: skip
        log.warning("%s", message_text)
        self._registry.events.publish(
            "removed-from-share", share=str(share_id), device=str(device), message=message_text
        )

    def _config_from_map(self, config: Config, share: ShareConfig, member_map: MemberMap) -> Config:
        members = member_map.members(exclude=self._us.digest)
        config = config.with_share(replace(share, members=tuple(
            Member(DeviceId(device), mode) for device, mode in sorted(members.items())
        )))  # fmt: skip
        for device in members:
            if config.peer(DeviceId(device)) is None:
                config = config.with_peer(PeerConfig(DeviceId(device)))
                self._peers.acceptor.pending.pop(DeviceId(device), None)
        return config

    def _broadcast(self, share: ShareConfig) -> None:
        for device, link in list(self._peers.links.items()):
            if (
                share.member(device) is not None
                and device not in self.removed_by(share.id)  # it would ignore ours
                and link.channel.version >= MEMBER_LISTS_VERSION
            ):
                self._send_map(device, share.id)

    def _send_map(self, device: DeviceId, share_id: ShareId) -> None:
        member_map = self._map(share_id)
        share = self._registry.config.share(share_id)
        others = [m.device_id for m in share.members if m.device_id != device] if share else []
        addresses = pairs_to_send([self._us, *others], self._first_hand)
        self._peers.send(device, MemberList(share_id.raw, member_map.to_entries(), addresses))

    def _first_hand(self, device: DeviceId) -> tuple[str, ...]:
        """Where ``device`` listens as we know it first-hand; for us, where we listen."""
        if device != self._us:
            return self._peers.dialer.first_hand(device)
        listen = self._listen_address()
        if listen and listen not in self._own:  # a wildcard looks up the host's addresses
            self._own[listen] = invite_addresses(listen)
        return self._own.get(listen, ())

    # -- files -------------------------------------------------------------------

    def saved_map(self, share_id: ShareId) -> bytes | None:
        """The member map file of ``share_id`` as it is now (None: there is none), for
        ``restore_map``."""
        try:
            return self._path(share_id).read_bytes()
        except OSError:
            return None

    def restore_map(self, share_id: ShareId, saved: bytes | None) -> None:
        """Put back the map file ``saved_map`` returned (a join that failed here)."""
        self._maps.pop(share_id, None)
        try:
            if saved is None:
                self._path(share_id).unlink(missing_ok=True)
            else:
                write_file_atomically(self._path(share_id), saved, mode=0o600)
        except OSError as exc:
            log.error("share %s: cannot restore the member map: %s", share_id, exc)

    def _path(self, share_id: ShareId) -> Path:
        return self._dir / f"{share_id}.json"

    def _map(self, share_id: ShareId) -> MemberMap:
        """The map of ``share_id``: held, read from its file, or (none yet: a new share,
        a joined one, or a config from before member maps) seeded from the config."""
        held = self._maps.get(share_id)
        if held is not None:
            return held
        try:
            with self._path(share_id).open("rb") as f:
                doc = json.loads(f.read(MAX_MAP_FILE_BYTES))
            member_map = MemberMap.from_json(doc["members"])
        except (OSError, ValueError, TypeError, KeyError) as exc:
            if not isinstance(exc, FileNotFoundError):
                log.error("share %s: member map unreadable (%s); seeded from the config",
                          share_id, exc)  # fmt: skip
            member_map = MemberMap()
            share = self._registry.config.share(share_id)
            if share is not None:
                member_map.reconcile(_configured(share), us=self._us.digest, seed=True)
            self._save(share_id, member_map)
        self._maps[share_id] = member_map
        return member_map

    def _save(self, share_id: ShareId, member_map: MemberMap) -> None:
        self._dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        data = json.dumps({"version": 1, "members": member_map.to_json()}).encode()
        try:
            write_file_atomically(self._path(share_id), data, mode=0o600)
        except OSError as exc:
            log.error("share %s: cannot save the member map: %s", share_id, exc)


def _configured(share: ShareConfig) -> dict[bytes, FolderMode]:
    return {m.device_id.digest: m.mode for m in share.members}
