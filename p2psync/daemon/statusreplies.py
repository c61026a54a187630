"""The control API's ``status``, ``peers`` and ``idle`` replies (docs/control-api.md):
the device's state, each share's and member's, each known device's link.

``ControlApi`` routes the three methods here; what they read is the registry's
shares, the peers' links and what is known of each device.
"""

from __future__ import annotations

from typing import Any

from p2psync import __version__
from p2psync.control.replies import (
    DiscoveredPeer,
    IdleReply,
    MemberStatus,
    NotInSync,
    PeerRow,
    PeersReply,
    PendingPeer,
    ShareStatus,
    StatusReply,
)
from p2psync.control.replies import (
    LinkFailure as LinkFailureReply,
)
from p2psync.control.wire import CONTROL_API_VERSION
from p2psync.daemon.controlhost import ControlHost
from p2psync.daemon.peerinfo import LinkFailure
from p2psync.daemon.progress import (
    files_settled,
    member_sync_pct,
    share_in_sync,
    share_remaining_docs,
    share_sync_pct,
)
from p2psync.daemon.shares import ShareService
from p2psync.daemon.sharestatus import not_in_sync as share_not_in_sync
from p2psync.daemon.sharestatus import share_state, summed, transfer_status
from p2psync.ids import DeviceId


class StatusReplies:
    """The state replies of one daemon."""

    def __init__(self, host: ControlHost) -> None:
        self._host = host

    async def status(self, params: dict[str, Any]) -> StatusReply:
        d = self._host
        shares = [self._share_status(s) for s in d.registry.shares.values()]
        return {
            "api_version": CONTROL_API_VERSION,
            "daemon_version": __version__,
            "device_id": str(d.identity.device_id),
            "name": d.registry.config.device_name,
            "listen": d.listen_address,
            "state": self._overall_state(shares),
            "paused": d.peers.paused,
            "mdns": d.discovery is not None and d.discovery.running,
            "shares": shares,
            "connected": [str(device) for device in d.peers.links],
            "pending": [str(device) for device in d.peers.acceptor.pending],
            "errors": d.events.recent_errors(),
        }

    def _overall_state(self, shares: list[ShareStatus]) -> str:
        """paused (the device, or every share with members), syncing (a connected
        member is behind, or a share with members has files still to write or take in:
        ``settled``), failing (a member's last link failed and it is backed off),
        not-in-sync (a share stopped, or files it cannot sync: ``not_in_sync``),
        offline (members exist but none is connected), up-to-date."""
        if self._host.peers.paused:
            return "paused"
        states = [m["state"] for share in shares for m in share["members"]
                  if m["state"] != "removed-this-device"]  # fmt: skip
        active = [state for state in states if state != "paused"]
        if "behind" in active or any(s["members"] and not s["settled"] for s in shares):
            return "syncing"
        if "failing" in active:
            return "failing"
        if any(share.get("stopped") or share["not_in_sync"] for share in shares):
            return "not-in-sync"
        if active and "in-sync" not in active:
            return "offline"
        if states and not active:
            return "paused"
        return "up-to-date"

    def _share_status(self, service: ShareService) -> ShareStatus:
        sync = service.sync
        status = share_state(service)
        not_in_sync = [*share_not_in_sync(service), *self._failing_links(service)]
        settled = files_settled(service)
        apps = self._host.apps
        members = [self._member_status(service, m.device_id, m.mode.value)
                   for m in service.config.members]  # fmt: skip
        return {
            **status,
            **summed(members),
            "apps": apps.clients_of(service) if apps is not None else [],
            "not_in_sync": not_in_sync,
            "paused": service.config.id in self._host.peers.paused_shares,
            "mode": self._host.membership.own_mode(service.config.id),
            "settled": settled,
            "in_sync": share_in_sync(sync) and settled and not not_in_sync and not service.stopped,
            "in_sync_pct": share_sync_pct(sync),
            "remaining_docs": share_remaining_docs(sync),
            "members": members,
            "errors": self._host.events.recent_errors(service.name),
        }  # fmt: skip

    def _failing_links(self, service: ShareService) -> list[NotInSync]:
        """``not_in_sync`` entries of the links that fail on this share's docs (a peer
        sends a frame over the limit): nothing of that doc syncs with that peer."""
        peers = self._host.peers
        return [
            {"path": info.failure.doc, "kind": "link-failing", "reason": info.failure.message}
            for device, info in sorted(peers.known.items())
            if info.failure is not None
            and info.failure.share == service.name
            and device not in peers.links
        ]

    def _member_status(self, service: ShareService, device: DeviceId, mode: str) -> MemberStatus:
        peers = self._host.peers
        info = peers.known.get(device)
        connected = device in service.sync.peers()
        if service.stopped:
            state = "stopped"  # the share stopped here; the device may still be linked
        elif device in service.removed_by:
            state = "removed-this-device"  # it exchanges nothing of the share with us
        elif peers.paused or service.config.id in peers.paused_shares:
            state = "paused"
        elif connected:
            state = "in-sync" if service.sync.in_sync_with(device) else "behind"
        elif info is not None and info.failure is not None and device not in peers.links:
            state = "failing"
        else:
            state = "offline" if info is not None and info.last_seen else "pending"
        peer_config = self._host.registry.config.peer(device)
        return {
            "device_id": str(device),
            "name": (info.name if info else "") or (peer_config.name if peer_config else ""),
            "mode": mode,
            "state": state,
            "sync_pct": member_sync_pct(service.sync, device) if connected else None,
            "error": _failure(info.failure) if state == "failing" and info else None,
            **transfer_status(service, device),
        }

    async def peers(self, params: dict[str, Any]) -> PeersReply:
        peers = self._host.peers
        rows: list[PeerRow] = []
        for device, info in sorted(peers.known.items()):
            link = peers.links.get(device)
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
                "rate_in": round(link.channel.rate_in.rate(), 1) if link else 0.0,
                "rate_out": round(link.channel.rate_out.rate(), 1) if link else 0.0,
                "protocol_version": link.channel.version if link else None,
                "sync_pct": self._peer_sync_pct(device) if link else None,
                "shares": [s.name for s in self._shares_with(device)],
                "found_by": peers.dialer.found_by(device),
                "failure": _failure(info.failure) if link is None else None,
                "display_name": self.display_name(device),
                "listen_addresses": list(peers.dialer.first_hand(device)),
                **summed([transfer_status(s, device) for s in self._shares_with(device)]),
            })  # fmt: skip
        pending = [
            PendingPeer(device_id=str(p.device_id), name=p.name, address=p.address,
                        last_seen=p.last_seen)
            for p in peers.acceptor.pending.values()
        ]  # fmt: skip
        discovery = self._host.discovery
        discovered = [
            DiscoveredPeer(device_id=e["device_id"], addresses=e["addresses"],
                           instance_id=e["instance_id"], shares_in_common=e["shares_in_common"],
                           protocol_versions=e["protocol_versions"], last_seen=e["last_seen"])
            for e in (discovery.snapshot() if discovery is not None else [])
        ]  # fmt: skip
        mdns = discovery is not None and discovery.running
        return {"peers": rows, "pending": pending, "paused": peers.paused, "mdns": mdns,
                "discovered": discovered}  # fmt: skip

    def _peer_sync_pct(self, device: DeviceId) -> float | None:
        """The mean of ``device``'s percentages over the shares it is connected in."""
        pcts = [member_sync_pct(s.sync, device) for s in self._shares_with(device)
                if device in s.sync.peers()]  # fmt: skip
        return round(sum(pcts) / len(pcts), 1) if pcts else None

    def display_name(self, device: DeviceId) -> str:
        """The name this device's user gave ``device`` (``peer name``), or ""."""
        peer = self._host.registry.config.peer(device)
        return peer.name if peer is not None else ""

    def _in_sync_with(self, device: DeviceId) -> bool:
        return all(s.sync.in_sync_with(device) for s in self._shares_with(device))

    async def idle(self, params: dict[str, Any]) -> IdleReply:
        """Every connected member in sync, and the files of the shares we have with
        them written and taken in (``files_settled``); with no member connected, the
        files of every share taken in (there is nothing to sync with, only the
        changes made here to take in)."""
        connected = [d for d in self._host.peers.links if self._shares_with(d)]
        shares = {s.name: s for d in connected for s in self._shares_with(d)}
        if not connected:
            shares = {s.name: s for s in self._host.registry.shares.values()}
        idle = all(map(self._in_sync_with, connected)) and all(map(files_settled, shares.values()))
        return {"idle": idle, "connected": len(connected)}

    def _shares_with(self, device: DeviceId) -> list[ShareService]:
        """The shares ``device`` is a member of, save those it removed this device from."""
        return [s for s in self._host.registry.shares.values()
                if s.config.member(device) and device not in s.removed_by]  # fmt: skip


def _failure(failure: LinkFailure | None) -> LinkFailureReply | None:
    """The JSON form of why a device's last link failed (``PeerInfo.failure``)."""
    if failure is None:
        return None
    return {
        "code": failure.code,
        "message": failure.message,
        "share": failure.share or None,
        "doc": failure.doc or None,
        "time": failure.time,
        "retry_at": failure.retry_at,
    }
