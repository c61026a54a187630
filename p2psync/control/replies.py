"""The types of the control API's replies: one TypedDict per method's ``result``.

The daemon's methods (daemon/api.py) return them, and the CLI and the tray read them,
so a key is spelled once, here, and mypy checks both sides. The meaning of each field
is in docs/control-api.md. A key marked ``NotRequired`` may be absent: it is present
only in some states (``stopped``), or only for a share with a mirror (``files``,
``filenames``). Within version 1 a newer daemon may add keys (never remove one), so a
client reads what it knows and ignores the rest. ``REPLIES`` maps each method to its
type (tests/unit/control/test_replies.py checks it against the daemon's methods).
"""

# No ``from __future__ import annotations``: TypedDict reads ``NotRequired`` at run time.
from collections.abc import Mapping
from typing import Any, NotRequired, TypedDict

Event = dict[str, Any]
"""An event (``type``, ``time`` and fields of its type): open-ended, docs/control-api.md."""


class HelloReply(TypedDict):
    api_version: int
    daemon_version: str
    device_id: str
    methods: list[str]


class NotInSync(TypedDict):
    """A file this device cannot sync now, and why (``kind``: ``file-skipped``,
    ``file-error``, ``unsafe-path``, ``chunk-list-lost``, ``doc-failing``,
    ``link-failing``)."""

    path: str
    kind: str
    reason: str


class ConflictCopy(TypedDict):
    """A copy of a version that lost, kept under ``.p2psync/conflicts/``."""

    copy: str
    path: str
    why: str
    when: float | None
    device: str
    size: int


class LinkFailure(TypedDict):
    """Why the last link to a device failed; it is tried again at ``retry_at``."""

    code: str
    message: str
    share: str | None
    doc: str | None
    time: float
    retry_at: float


class TransferStatus(TypedDict):
    """What a member is sending this device of a share now (its current transfer: the
    docs asked of it since nothing was outstanding with it): the files asked and
    arrived, the bytes of its answers and the bytes expected in all (from the sizes it
    announced; None from a daemon that does not announce them); and what this device
    is sending it: the files it lacks or was sent in the current transfer, those sent,
    and their bytes (estimated for those not sent yet), and of the files it lacks,
    those it was told of and has not asked for (nothing is sent until it asks). A
    share sums its members', a peer its shares'. Clients read the fields older
    daemons lack with ``.get``."""

    files_expected: int
    files_received: int
    bytes_received: int
    bytes_expected: int | None
    files_to_send: int
    files_sent: int
    bytes_to_send: int
    bytes_sent: int
    files_unasked: int


class MemberStatus(TransferStatus):
    """Another member of a share, as ``status`` lists it (``state``: ``in-sync``,
    ``behind``, ``failing``, ``offline``, ``pending``, ``paused``, ``stopped``,
    ``removed-this-device``)."""

    device_id: str
    name: str
    mode: str
    state: str
    sync_pct: float | None
    error: LinkFailure | None


class ResidencyStatus(TypedDict):
    """How many of a share's docs are in memory, and roughly how much they hold."""

    docs_loaded: int
    loaded_bytes: int


class ShareState(ResidencyStatus):
    """What a share reports of itself (daemon/shares.py); ``status`` adds the rest."""

    id: str
    path: str
    docs: int
    peers_connected: list[str]
    peers_in_sync: list[str]
    conflicts: list[ConflictCopy]
    files: NotRequired[int]
    files_to_write: NotRequired[int]
    stopped: NotRequired[str]
    filenames: NotRequired[str]


class AppClients(TypedDict):
    """A text file local apps edit through the apps endpoint, and how many are
    connected to it (docs/apps.md)."""

    path: str
    clients: int


class ShareStatus(ShareState, TransferStatus):
    """One share in the ``status`` reply."""

    apps: list[AppClients]
    not_in_sync: list[NotInSync]
    paused: bool
    mode: str
    settled: bool
    in_sync: bool
    in_sync_pct: float | None
    remaining_docs: int
    members: list[MemberStatus]
    errors: list[Event]


class StatusReply(TypedDict):
    """``status`` (``state``: ``paused``, ``syncing``, ``failing``, ``not-in-sync``,
    ``offline``, ``up-to-date``)."""

    api_version: int
    daemon_version: str
    device_id: str
    name: str
    listen: str
    state: str
    paused: bool
    mdns: bool
    shares: list[ShareStatus]
    connected: list[str]
    pending: list[str]
    errors: list[Event]


class PeerRow(TransferStatus):
    """A known device in the ``peers`` reply (with what it sends us and we send it,
    over the shares it is connected in)."""

    device_id: str
    name: str
    address: str
    connected: bool
    connected_since: float | None
    last_seen: float
    last_error: str
    in_sync: bool
    bytes_in: int
    bytes_out: int
    rate_in: float
    rate_out: float
    protocol_version: int | None
    sync_pct: float | None
    shares: list[str]
    found_by: str
    failure: LinkFailure | None
    display_name: str
    listen_addresses: list[str]


def peer_address(peer: Mapping[str, Any]) -> str:
    """Where a peer of the ``peers`` reply is, for people ("" if not known). The
    reply's ``address`` is where the link came from, so for a link the peer dialed
    (``found_by`` ``incoming``) its port is the peer's ephemeral source port, not where
    it listens: then the first address it listens at as the daemon knows
    (``listen_addresses``), else only the host."""
    address = str(peer.get("address") or "")
    if not address or peer.get("found_by") != "incoming":
        return address
    listening = peer.get("listen_addresses") or []
    if listening:
        return f"{listening[0]} (it dialed us)"
    host = address.rsplit(":", 1)[0] if ":" in address else address
    return f"{host} (it dialed us)"


def transfer_pct(done: int, total: int) -> float | None:
    """``done`` of ``total`` (files or bytes of a transfer) as a percentage between 0
    and 100 (an estimated total may fall short of what came); None for no total."""
    return None if total <= 0 else min(100.0, round(100.0 * done / total, 1))


TransferFigures = tuple[int, int, int, int | None]
"""Files done, files in all, bytes done, bytes in all (None: not known)."""


def receiving(transfer: Mapping[str, Any]) -> TransferFigures:
    """``(files received, files expected, bytes received, bytes expected)`` of a
    member's, share's or peer's transfer to this device (``TransferStatus``; bytes
    expected None when not announced, as from older daemons)."""
    return (int(transfer.get("files_received") or 0), int(transfer.get("files_expected") or 0),
            int(transfer.get("bytes_received") or 0), transfer.get("bytes_expected"))  # fmt: skip


def sending(transfer: Mapping[str, Any]) -> tuple[int, int, int, int]:
    """``(files sent, files to send, bytes sent, bytes to send)`` of what this device
    sends a member (a share's members, a peer's shares) now (``TransferStatus``)."""
    return (int(transfer.get("files_sent") or 0), int(transfer.get("files_to_send") or 0),
            int(transfer.get("bytes_sent") or 0),
            int(transfer.get("bytes_to_send") or 0))  # fmt: skip


class PendingPeer(TypedDict):
    """An unknown device that tried to connect."""

    device_id: str
    name: str
    address: str
    last_seen: float


class DiscoveredPeer(TypedDict):
    """A device found over mDNS."""

    device_id: str
    addresses: list[str]
    instance_id: str
    shares_in_common: bool
    protocol_versions: list[int]
    last_seen: float


class PeersReply(TypedDict):
    peers: list[PeerRow]
    pending: list[PendingPeer]
    paused: bool
    mdns: bool
    discovered: list[DiscoveredPeer]


class IdleReply(TypedDict):
    idle: bool
    connected: int


class PauseReply(TypedDict):
    """``pause`` and ``resume``; ``share`` only when one share was asked for."""

    paused: bool
    share: NotRequired[str]


class CompactReply(TypedDict):
    compacted: dict[str, int]
    """Share ID → logs compacted now."""


class ShareAddReply(TypedDict):
    id: str
    path: str


class ShareRemoveReply(TypedDict):
    removed: str


class OkReply(TypedDict):
    """``share.member.add``, ``share.member.remove``, ``peer.add``, ``peer.remove``,
    ``doc.apply``."""

    ok: bool


class InviteReply(TypedDict):
    code: str
    share: str
    inviter: str
    addresses: list[str]
    expires: float


class JoinReply(TypedDict):
    share: str
    path: str
    inviter: str


class PeerNameReply(TypedDict):
    """``peer.name``: the device and the name it is shown with now ("" if none)."""

    device: str
    name: str


class NameReply(TypedDict):
    name: str


class DocExportReply(TypedDict):
    """``doc.export``: the full state in base64, in the reply itself."""

    update: str


class DocExportStreamedReply(TypedDict):
    """``doc.export`` with ``stream``: the state came in parts, this is its length."""

    bytes: int


class DocUrlParams(TypedDict):
    """The query parameters an app adds to the room's address."""

    token: str


class DocUrlReply(TypedDict):
    """``doc.url``: where a local app connects for a text file (docs/apps.md)."""

    server: str
    room: str
    params: DocUrlParams
    url: str


class VersionRow(TypedDict):
    """One version of a file's history (docs/history.md)."""

    number: int
    """What ``history.diff``, ``history.text`` and ``restore`` name it by."""
    time: float
    device: str
    """The device whose change started the version."""
    kind: str
    """``create``, ``local save``, ``remote change``, ``rename``, ``delete`` or
    ``restore``: its first change's."""
    size: int
    """The text's size in UTF-8 bytes."""
    added: int
    removed: int
    """Characters inserted and deleted since the version before it: the sums of the
    counts of the changes it holds, each against the text just before it."""
    old_path: NotRequired[str]
    """For a ``rename`` only: the share path the file had before it."""
    others: NotRequired[list[str]]
    """The other devices whose edits coalesced into it, when several made it."""


class HistoryReply(TypedDict):
    """``history``: a text file's versions, newest first."""

    path: str
    versions: list[VersionRow]


class HistoryDiffReply(TypedDict):
    """``history.diff``: a unified diff from the version to the current text."""

    version: VersionRow
    diff: str


class HistoryTextReply(TypedDict):
    """``history.text``: the text of a version."""

    version: VersionRow
    text: str


class HistoryTextStreamedReply(TypedDict):
    """``history.text`` with ``stream``: the text came in parts; its length."""

    bytes: int


class RestoreReply(TypedDict):
    """``restore``: whether the file changed (False: it held that text already)."""

    restored: VersionRow
    changed: bool


class DeletedFile(TypedDict):
    """A file deleted from a share (``history.deleted``)."""

    path: str
    kind: str
    """``text``, ``chunked`` or ``binary``: only text files of one doc have versions."""
    deleted: float | None
    """When this device saw the deletion (Unix seconds); None if before history kept it
    (or for the moment between the manifest's change and the timeline's)."""
    device: str | None
    """The device whose change deleted it (the peer that sent it), if known."""
    last_version: VersionRow | None
    """The newest version holding its text, which ``restore`` brings back."""


class DeletedFolder(TypedDict):
    """A folder all of whose files were deleted (``history.deleted``)."""

    path: str
    files: int
    deleted: float | None
    """The latest of its files' deletions."""
    device: str | None


class HistoryDeletedReply(TypedDict):
    """``history.deleted``: a share's deleted files and folders, latest deletion first."""

    share: str
    files: list[DeletedFile]
    folders: list[DeletedFolder]


class HistoryFile(TypedDict):
    """A file of a share (``history.files``)."""

    path: str
    kind: str
    """``text`` has versions; ``chunked`` and ``binary`` files have none yet."""


class HistoryFilesReply(TypedDict):
    """``history.files``: a share's files, by path."""

    share: str
    files: list[HistoryFile]


class RestoredFile(TypedDict):
    """What ``restore.at`` did with one text file."""

    path: str
    version: int | None
    """The version it was brought back to (None: left as it is)."""
    result: str
    """``restored``, ``unchanged`` (it held that text) or ``left`` (see ``reason``)."""
    reason: str


class RestoreAtReply(TypedDict):
    """``restore.at``: a folder's text files as they were at ``time``."""

    time: float
    files: list[RestoredFile]


REPLIES: dict[str, tuple[type, ...]] = {
    "hello": (HelloReply,),
    "status": (StatusReply,),
    "peers": (PeersReply,),
    "idle": (IdleReply,),
    "pause": (PauseReply,),
    "resume": (PauseReply,),
    "compact": (CompactReply,),
    "share.add": (ShareAddReply,),
    "share.remove": (ShareRemoveReply,),
    "share.member.add": (OkReply,),
    "share.member.remove": (OkReply,),
    "invite": (InviteReply,),
    "join": (JoinReply,),
    "peer.add": (OkReply,),
    "peer.remove": (OkReply,),
    "peer.name": (PeerNameReply,),
    "name": (NameReply,),
    "doc.apply": (OkReply,),
    "doc.export": (DocExportReply, DocExportStreamedReply),
    "doc.url": (DocUrlReply,),
    "history": (HistoryReply,),
    "history.diff": (HistoryDiffReply,),
    "history.text": (HistoryTextReply, HistoryTextStreamedReply),
    "restore": (RestoreReply,),
    "history.deleted": (HistoryDeletedReply,),
    "history.files": (HistoryFilesReply,),
    "restore.at": (RestoreAtReply,),
}
"""Method → the types its result may have (``subscribe`` replies ``"subscribed"``)."""
