"""The control API's methods: what the CLI and the GUI can ask of a running daemon.

Each method is an async function of the request's params returning a JSON-ready
result, or raising a P2PSyncError that becomes an error reply. The spec is
docs/control-api.md; a method added here is documented there in the same change.
The daemon's composition root builds one ControlApi and hands ``handlers()`` to the
ControlServer.
"""

from __future__ import annotations

import base64
import difflib
from typing import Any

import trio

from p2psync import __version__
from p2psync.control.errorcodes import NotFoundError
from p2psync.control.replies import (
    CompactReply,
    DocExportReply,
    DocUrlReply,
    HelloReply,
    HistoryDiffReply,
    HistoryReply,
    HistoryTextReply,
    HistoryTextStreamedReply,
    NameReply,
    OkReply,
    PauseReply,
    PeerNameReply,
    RestoreReply,
    ShareAddReply,
    ShareRemoveReply,
)
from p2psync.control.wire import CONTROL_API_VERSION, Streamed
from p2psync.daemon.configedits import (
    add_member,
    add_peer,
    name_peer,
    remove_peer,
    remove_share,
    rename_device,
    share_from_params,
)
from p2psync.daemon.control import Handler
from p2psync.daemon.controlhost import ControlHost
from p2psync.daemon.filehistory import version_row as _row
from p2psync.daemon.historyapi import history_deleted, history_files, restore_at
from p2psync.daemon.joins import invite, join, member_remove
from p2psync.daemon.sharefolders import set_up_folder
from p2psync.daemon.shares import ShareService
from p2psync.daemon.statusreplies import StatusReplies
from p2psync.errors import ControlError, UnsafePathError, UsageError
from p2psync.ids import DeviceId, ShareId
from p2psync.mirror.applycheck import apply_refusal
from p2psync.mirror.paths import share_path
from p2psync.storage.layout import InvalidGuidError


class ControlApi:
    """The control API methods of one daemon."""

    def __init__(self, host: ControlHost) -> None:
        self._host = host
        self._replies = StatusReplies(host)

    def handlers(self) -> dict[str, Handler]:
        """Method name → handler, for the ControlServer."""
        return {
            "hello": self._hello,
            "status": self._replies.status,
            "peers": self._replies.peers,
            "share.add": self._share_add,
            "share.remove": self._share_remove,
            "share.member.add": self._member_add,
            "share.member.remove": lambda params: member_remove(self._host, params),
            "invite": lambda params: invite(self._host, params),
            "join": lambda params: join(self._host, params),
            "peer.add": self._peer_add,
            "peer.remove": self._peer_remove,
            "peer.name": self._peer_name,
            "name": self._name,
            "doc.apply": self._doc_apply,
            "doc.export": self._doc_export,
            "doc.url": self._doc_url,
            "idle": self._replies.idle,
            "pause": self._pause,
            "resume": self._resume,
            "compact": self._compact,
            "history": self._history,
            "history.diff": self._history_diff,
            "history.text": self._history_text,
            "restore": self._restore,
            "history.files": lambda params: history_files(self._host.registry, params),
            "history.deleted": lambda params: history_deleted(self._host.registry, params),
            "restore.at": lambda params: restore_at(
                self._host.registry, self._host.peers.request_flush, params
            ),
        }

    # -- state -------------------------------------------------------------------

    async def _hello(self, params: dict[str, Any]) -> HelloReply:
        return {
            "api_version": CONTROL_API_VERSION,
            "daemon_version": __version__,
            "device_id": str(self._host.identity.device_id),
            "methods": sorted([*self.handlers(), "subscribe"]),
        }

    # -- pause and maintenance -----------------------------------------------------

    async def _pause(self, params: dict[str, Any]) -> PauseReply:
        """Stop all sync traffic (peer connections are closed and refused until
        resume), or with ``share`` only that share's."""
        peers = self._host.peers
        if params.get("share"):
            share = self._share(params)
            if share.config.id not in peers.paused_shares:
                peers.pause_share(share.config.id)
                self._host.events.publish("paused", share=share.name)
            return {"paused": True, "share": share.name}
        if not peers.paused:
            peers.pause()
            self._host.events.publish("paused")
        return {"paused": True}

    async def _resume(self, params: dict[str, Any]) -> PauseReply:
        peers = self._host.peers
        if params.get("share"):
            share = self._share(params)
            if share.config.id in peers.paused_shares:
                peers.resume_share(share.config.id)
                self._host.events.publish("resumed", share=share.name)
            return {"paused": False, "share": share.name}
        if peers.paused:
            peers.resume()
            self._host.events.publish("resumed")
        return {"paused": False}

    async def _compact(self, params: dict[str, Any]) -> CompactReply:
        """Compact the logs of one share (``share``) or of every share now."""
        if params.get("share"):
            services = [self._share(params)]
        else:
            services = list(self._host.registry.shares.values())
        return {"compacted": {s.name: await s.compact_now() for s in services}}

    # -- config ------------------------------------------------------------------

    async def _share_add(self, params: dict[str, Any]) -> ShareAddReply:
        r = self._host.registry
        share = share_from_params(params, r.config, r.home)
        try:
            await trio.to_thread.run_sync(set_up_folder, r.home, share)
        except OSError as exc:
            raise UsageError(
                f"cannot create the folder {share.path}: {exc.strerror or exc}"
            ) from None
        r.update_config(r.config.with_share(share))
        if share.id not in r.shares:
            await r.start_share(share)
        return {"id": str(share.id), "path": str(share.path)}

    async def _share_remove(self, params: dict[str, Any]) -> ShareRemoveReply:
        r = self._host.registry
        share_id = ShareId.parse(str(params.get("share", "")))
        r.update_config(remove_share(r.config, params))
        await r.stop_share(share_id)
        return {"removed": str(share_id)}

    async def _member_add(self, params: dict[str, Any]) -> OkReply:
        r = self._host.registry
        r.update_config(add_member(r.config, params, self._host.identity.device_id))
        device = DeviceId.parse(str(params.get("device")))
        self._host.peers.acceptor.pending.pop(device, None)
        self._host.peers.dialer.refresh()
        return {"ok": True}

    async def _peer_add(self, params: dict[str, Any]) -> OkReply:
        r = self._host.registry
        r.update_config(add_peer(r.config, params))
        self._host.peers.dialer.refresh()
        return {"ok": True}

    async def _peer_remove(self, params: dict[str, Any]) -> OkReply:
        # A dialer finds the address gone at its next attempt; a link up stays up.
        r = self._host.registry
        r.update_config(remove_peer(r.config, params))
        return {"ok": True}

    async def _peer_name(self, params: dict[str, Any]) -> PeerNameReply:
        r = self._host.registry
        r.update_config(name_peer(r.config, params))
        device = DeviceId.parse(str(params.get("device", "")))
        return {"device": str(device), "name": self._replies.display_name(device)}

    async def _name(self, params: dict[str, Any]) -> NameReply:
        # Each handshake reads the name from the config: the next link uses it.
        r = self._host.registry
        r.update_config(rename_device(r.config, params))
        return {"name": r.config.device_name}

    # -- docs --------------------------------------------------------------------

    def _share(self, params: dict[str, Any]) -> ShareService:
        return self._host.registry.share(params)

    def _share_and_guid(self, params: dict[str, Any]) -> tuple[ShareService, str]:
        share = self._share(params)
        return share, share.guid_for_path(_doc_param(share, params))

    async def _doc_apply(self, params: dict[str, Any]) -> OkReply:
        share, guid = self._share_and_guid(params)
        path = str(params["doc"])
        refusal = await trio.to_thread.run_sync(
            apply_refusal, share.root, path, share.kind(guid), path
        )
        if refusal is not None:
            raise refusal
        encoded = params.get("update")
        if not isinstance(encoded, str):
            raise ControlError("the update must be base64 text", "bad-request")
        try:
            update = base64.b64decode(encoded, validate=True)
        except ValueError:  # binascii.Error, or text that is not ASCII
            raise ControlError("the update is not base64 text", "bad-request") from None
        await share.local_update(guid, update)
        self._host.peers.request_flush()
        return {"ok": True}

    async def _doc_export(self, params: dict[str, Any]) -> DocExportReply | Streamed:
        share, guid = self._share_and_guid(params)
        state = share.export_state(guid)
        if state is None:
            raise NotFoundError(f"share {share.name} has no doc {guid!r}")
        if params.get("stream") is True:  # in parts: a large doc exceeds one line
            return Streamed(state, {"bytes": len(state)})
        return {"update": base64.b64encode(state).decode()}

    # -- history (docs/history.md) -------------------------------------------------

    async def _history(self, params: dict[str, Any]) -> HistoryReply:
        share, guid = self._share_and_guid(params)
        versions = await share.history.versions(guid)
        return {"path": str(params["doc"]), "versions": [_row(v) for v in reversed(versions)]}

    async def _history_diff(self, params: dict[str, Any]) -> HistoryDiffReply:
        share, guid = self._share_and_guid(params)
        version, then = await share.history.version_text(guid, _version_number(params))
        now = share.history.current_text(guid)
        path = str(params["doc"])
        diff = await trio.to_thread.run_sync(
            _unified_diff, then, now, f"{path} (version {version.number})", f"{path} (now)"
        )
        return {"version": _row(version), "diff": diff}

    async def _history_text(
        self, params: dict[str, Any]
    ) -> HistoryTextReply | HistoryTextStreamedReply | Streamed:
        share, guid = self._share_and_guid(params)
        if params.get("stream") is True:  # in parts: a large text exceeds one line
            _, data = await share.history.version_content(guid, _version_number(params))
            return Streamed(data, {"bytes": len(data)})
        version, text = await share.history.version_text(guid, _version_number(params))
        return {"version": _row(version), "text": text}

    async def _restore(self, params: dict[str, Any]) -> RestoreReply:
        share, guid = self._share_and_guid(params)
        number = _version_number(params)
        changed = await share.history.restore_version(guid, number)
        if changed:
            self._host.peers.request_flush()
            share.events.publish("file-restored", share=share.name, path=str(params["doc"]),
                                 version=number)  # fmt: skip
        version, _ = await share.history.version_content(guid, number)
        return {"restored": _row(version), "changed": changed}

    async def _doc_url(self, params: dict[str, Any]) -> DocUrlReply:
        """Where a local app connects for a text file (docs/apps.md)."""
        share = self._share(params)
        apps = self._host.apps
        if apps is None:
            raise UsageError("the apps endpoint is off ([apps] enabled = false in the config)")
        return await apps.url_of(share, _doc_param(share, params))


def _doc_param(share: ShareService, params: dict[str, Any]) -> str:
    """The ``doc`` of a request: a doc ``share`` holds (by its guid), or the path of a
    file in it (which may not exist yet). Anything else, a path into ``.p2psync`` or
    out of the share included, is refused in one sentence (InvalidGuidError, a usage
    error): a doc made for it would be a file no device can write."""
    doc = str(params.get("doc", ""))
    if not share.holds(doc):
        try:
            share_path(doc)
        except UnsafePathError as exc:
            raise InvalidGuidError(f"{doc!r} is not a file of share {share.name}: "
                                   f"{exc.reason}") from None  # fmt: skip
    return doc


def _version_number(params: dict[str, Any]) -> int:
    number = params.get("version")
    if not isinstance(number, int) or isinstance(number, bool) or number < 1:
        raise ControlError("version must be a version number (1 or more)", "bad-request")
    return number


def _unified_diff(then: str, now: str, then_name: str, now_name: str) -> str:
    lines = difflib.unified_diff(
        then.splitlines(keepends=True), now.splitlines(keepends=True), then_name, now_name
    )
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)
