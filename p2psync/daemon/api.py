"""The control API's methods: what the CLI and the GUI can ask of a running daemon.

Each method is an async function of the request's params returning a JSON-ready
result, or raising a P2PSyncError that becomes an error reply. The spec is
docs/control-api.md; a method added here is documented there in the same change.
The daemon's composition root builds one ControlApi and hands ``handlers()`` to the
ControlServer.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any

from p2psync.daemon.configedits import add_member, add_peer, remove_share, share_from_params
from p2psync.daemon.control import Handler
from p2psync.daemon.shares import ShareService
from p2psync.errors import ControlError
from p2psync.ids import DeviceId, ShareId
from p2psync.storage.layout import check_guid

if TYPE_CHECKING:
    from p2psync.daemon.daemon import Daemon


class ControlApi:
    """The control API methods of one daemon."""

    def __init__(self, daemon: Daemon) -> None:
        self._daemon = daemon

    def handlers(self) -> dict[str, Handler]:
        """Method name → handler, for the ControlServer."""
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

    # -- state -------------------------------------------------------------------

    async def _status(self, params: dict[str, Any]) -> Any:
        d = self._daemon
        return {
            "device_id": str(d.identity.device_id),
            "name": d.config.device_name,
            "listen": d.listen_address,
            "shares": [s.status() for s in d.shares.values()],
            "connected": [str(device) for device in d.peers.links],
            "pending": [str(device) for device in d.peers.pending],
        }

    async def _peers(self, params: dict[str, Any]) -> Any:
        peers = self._daemon.peers
        rows = []
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
            })  # fmt: skip
        pending = [
            {"device_id": str(p.device_id), "name": p.name, "address": p.address}
            for p in peers.pending.values()
        ]
        return {"peers": rows, "pending": pending}

    def _in_sync_with(self, device: DeviceId) -> bool:
        return all(s.sync.in_sync_with(device) for s in self._shares_with(device))

    async def _idle(self, params: dict[str, Any]) -> Any:
        connected = [d for d in self._daemon.peers.links if self._shares_with(d)]
        return {"idle": all(self._in_sync_with(d) for d in connected), "connected": len(connected)}

    def _shares_with(self, device: DeviceId) -> list[ShareService]:
        return [s for s in self._daemon.shares.values() if s.config.member(device)]

    # -- config ------------------------------------------------------------------

    async def _share_add(self, params: dict[str, Any]) -> Any:
        d = self._daemon
        share = share_from_params(params, d.config)
        d.update_config(d.config.with_share(share))
        if share.id not in d.shares:
            await d.start_share(share)
        return {"id": str(share.id), "path": str(share.path)}

    async def _share_remove(self, params: dict[str, Any]) -> Any:
        d = self._daemon
        share_id = ShareId.parse(str(params.get("share", "")))
        d.update_config(remove_share(d.config, params))
        await d.stop_share(share_id)
        return {"removed": str(share_id)}

    async def _member_add(self, params: dict[str, Any]) -> Any:
        d = self._daemon
        d.update_config(add_member(d.config, params))
        device = DeviceId.parse(str(params.get("device")))
        d.peers.pending.pop(device, None)
        d.peers.refresh_dialers()
        return {"ok": True}

    async def _peer_add(self, params: dict[str, Any]) -> Any:
        d = self._daemon
        d.update_config(add_peer(d.config, params))
        d.peers.refresh_dialers()
        return {"ok": True}

    # -- docs --------------------------------------------------------------------

    def _share_and_guid(self, params: dict[str, Any]) -> tuple[ShareService, str]:
        share = self._daemon.shares.get(ShareId.parse(str(params.get("share", ""))))
        if share is None:
            raise ControlError("no such share", "not-found")
        return share, check_guid(str(params.get("doc", "")))

    async def _doc_apply(self, params: dict[str, Any]) -> Any:
        share, guid = self._share_and_guid(params)
        update = base64.b64decode(str(params.get("update", "")), validate=True)
        await share.local_update(guid, update)
        self._daemon.peers.request_flush()
        return {"ok": True}

    async def _doc_export(self, params: dict[str, Any]) -> Any:
        share, guid = self._share_and_guid(params)
        state = share.doc_state(guid)
        if state is None:
            raise ControlError(f"share {share.name} has no doc {guid!r}", "not-found")
        return {"update": base64.b64encode(state).decode()}
