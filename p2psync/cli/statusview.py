"""The human form of ``p2psync status`` and ``p2psync peers`` (``cli.status``):
aligned tables of the control API's replies, loaded only when they are printed so.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from p2psync.cli import human, table
from p2psync.control.replies import peer_address, receiving, sending, transfer_pct
from p2psync.errors import InvalidIdError

if TYPE_CHECKING:
    from p2psync.control.replies import (
        PeerRow,
        PeersReply,
        ShareStatus,
        StatusReply,
        TransferFigures,
    )

PENDING_HINT = "Pending devices asked to connect; accept one: p2psync share member add SHARE ID"
STATE_WORDS = {
    "up-to-date": "up to date",
    "syncing": "syncing",
    "failing": "failing (a member's link fails, see below)",
    "not-in-sync": "not in sync (see below)",
    "offline": "offline (no member connected)",
    "paused": "paused",
}


def short(device_id: str) -> str:
    """The short form of a device ID for tables (the full one is in ``--json``)."""
    # Imported here: ``status --json`` prints no table and need not load it.
    from p2psync.ids import DeviceId  # noqa: PLC0415

    try:
        return DeviceId.parse(device_id).short()
    except InvalidIdError:
        return device_id


def format_status(status: StatusReply) -> str:
    """The human form of a ``status`` reply."""
    now = time.time()
    head = table.fields([
        ("Device", f"{status['device_id']} ({status['name']})"),
        ("Listen", status["listen"]),
        ("State", STATE_WORDS.get(status["state"], status["state"])),
        ("Peers", f"{len(status['connected'])} connected, {len(status['pending'])} pending"),
    ])  # fmt: skip
    rows = [
        [share["id"], human.name(share["path"]), str(share["docs"]), _loaded(share),
         _share_state(share), human.percent(share["in_sync_pct"])]
        for share in status["shares"]
    ]  # fmt: skip
    headers = ["SHARE", "PATH", "DOCS", "LOADED", "STATE", "SYNC"]
    parts = [head, "", table.render(headers, rows, right=[2, 3, 5])]
    members = [
        [share["id"], short(m["device_id"]), m["name"] or "-", m["mode"], m["state"],
         human.percent(m["sync_pct"])]
        for share in status["shares"]
        for m in share["members"]
    ]  # fmt: skip
    if members:
        headers = ["SHARE", "MEMBER", "NAME", "MODE", "STATE", "SYNC"]
        parts += ["", table.render(headers, members, right=[5])]
    for title, figures, word in (("Receiving:", receiving, "from"), ("Sending:", sending, "to")):
        lines = _member_transfers(status, figures, word)
        if lines:
            parts += ["", title, *(f"  {line}" for line in lines)]
    writing = [f"{share['id']}: {writing_text(share)} ({human.name(share['path'])})"
               for share in status["shares"] if share.get("files_to_write")]  # fmt: skip
    if writing:
        parts += ["", "Folders:", *(f"  {line}" for line in writing)]
    not_in_sync = [
        ": ".join(filter(None, (share["id"], human.name(problem["path"]), problem["reason"])))
        for share in status["shares"]
        for problem in share.get("not_in_sync", [])
    ] + [f"{share['id']}: stopped: {share['stopped']}" for share in status["shares"]
         if share.get("stopped")]  # fmt: skip
    if not_in_sync:
        parts += ["", "Not in sync:", *(f"  {line}" for line in not_in_sync)]
    apps = [
        f"{share['id']}: {human.name(app['path'])}: {app['clients']} connected"
        for share in status["shares"]
        for app in share.get("apps", [])
    ]
    if apps:
        parts += ["", "Apps:", *(f"  {line}" for line in apps)]
    failing = _failing_links(status, now)
    if failing:
        parts += ["", "Failing links:", *(f"  {line}" for line in failing)]
    removed = _removed_by(status)
    if removed:
        parts += ["", "Removed:", *(f"  {line}" for line in removed)]
    errors = [*status["errors"], *(e for s in status["shares"] for e in s["errors"])]
    if errors:
        lines = [f"{human.ago(e['time'], now)}: {e['message']}" for e in errors]
        parts += ["", "Recent errors:", *(f"  {line}" for line in lines)]
    return "\n".join(parts)


def transfer_text(done: int, total: int, done_bytes: int, total_bytes: int | None) -> str:
    """``412 of 1,000 files (41.2%), 68.2 KiB of 166.0 KiB (41.1%)``: a transfer by
    files and by bytes (only the bytes so far when their total is not known)."""
    files = f"{done:,} of {total:,} files ({human.percent(transfer_pct(done, total))})"
    if total_bytes is None:
        return f"{files}, {human.size(done_bytes)}"
    pct = human.percent(transfer_pct(done_bytes, total_bytes))
    return f"{files}, {human.size(done_bytes)} of {human.size(total_bytes)} ({pct})"


def writing_text(share: Mapping[str, Any]) -> str:
    """``writing 81,234 files to the folder``: the files whose content is here that
    the share's folder does not have yet (``files_to_write``), or "" for none."""
    count = int(share.get("files_to_write") or 0)
    if not count:
        return ""
    return f"writing {count:,} file{'s' if count != 1 else ''} to the folder"


def _member_transfers(
    status: StatusReply, figures: Callable[[Mapping[str, Any]], TransferFigures], word: str
) -> list[str]:
    """One line per member behind in a share with files in the transfer ``figures``
    reads of it (``receiving``: what it sends us, ``word`` "from"; ``sending``: what
    we send it, "to"): the files done of the transfer's and the bytes (absent from
    older daemons), and, sending, why what it lacks does not go (``unasked_text``)."""
    lines = []
    for share in status["shares"]:
        for member in share["members"]:
            done, total, done_bytes, total_bytes = figures(member)
            if member["state"] != "behind" or not total:
                continue
            name = f" ({member['name']})" if member["name"] else ""
            why = unasked_text(member) if figures is sending else ""
            lines.append(f"{share['id']} {word} {short(member['device_id'])}{name}: "
                         f"{transfer_text(done, total, done_bytes, total_bytes)}{why}")  # fmt: skip
    return lines


def unasked_text(transfer: Mapping[str, Any]) -> str:
    """``; it has not asked for 1 file it lacks``: the files a member lacks that it was
    told of and does not ask for (``files_unasked``; nothing goes until it asks), or ""."""
    count = int(transfer.get("files_unasked") or 0)
    if not count:
        return ""
    return f"; it has not asked for {count:,} file{'s' if count != 1 else ''} it lacks"


def _peer_transfers(peers: list[PeerRow]) -> list[str]:
    """One line per connected peer not in sync that sends us or we send files."""
    lines = []
    for peer in peers:
        if not peer["connected"] or peer["in_sync"]:
            continue
        words = []
        got, expected, got_bytes, expected_bytes = receiving(peer)
        if expected:
            words.append(f"receiving {transfer_text(got, expected, got_bytes, expected_bytes)}")
        sent, to_send, sent_bytes, bytes_to_send = sending(peer)
        if to_send:
            figures = transfer_text(sent, to_send, sent_bytes, bytes_to_send)
            words.append(f"sending {figures}{unasked_text(peer)}")
        if words:
            lines.append(f"{short(peer['device_id'])} ({_peer_name(peer)}): {'; '.join(words)}")
    return lines


def _failing_links(status: StatusReply, now: float) -> list[str]:
    """One line per member whose last link failed (state ``failing``): who, why, and
    when it is tried again. A device in several shares is listed once."""
    lines: dict[str, str] = {}
    for share in status["shares"]:
        for member in share["members"]:
            error = member.get("error")
            if member["state"] != "failing" or not error or member["device_id"] in lines:
                continue
            name = f" ({member['name']})" if member["name"] else ""
            retry = max(0, round(error["retry_at"] - now))
            lines[member["device_id"]] = (
                f"{short(member['device_id'])}{name}: {error['message']}; next try in {retry} s"
            )
    return list(lines.values())


def _removed_by(status: StatusReply) -> list[str]:
    """One line per member that removed this device from a share (state
    ``removed-this-device``)."""
    lines = []
    for share in status["shares"]:
        for member in share["members"]:
            if member["state"] == "removed-this-device":
                name = f" ({member['name']})" if member["name"] else ""
                lines.append(f"{share['id']}: {short(member['device_id'])}{name} removed this "
                             "device from the share; nothing of it is exchanged with that "
                             "member, and the files here stay")  # fmt: skip
    return lines


def _loaded(share: ShareStatus) -> str:
    """Docs in memory and roughly how much they hold (absent from older daemons)."""
    if "docs_loaded" not in share:
        return "-"
    return f"{share['docs_loaded']} ({human.size(share.get('loaded_bytes', 0))})"


def _share_state(share: ShareStatus) -> str:
    members = share["members"]
    if share.get("stopped"):
        return "stopped (see below)"
    if share.get("paused"):
        return "paused (this share)"
    problems = len(share.get("not_in_sync", []))
    if problems:
        return f"{problems} not in sync (see below)"
    if not members:
        return "no other members"
    members = [m for m in members if m["state"] != "removed-this-device"]
    if not members:
        return "removed (see below)"
    states = [m["state"] for m in members]
    in_sync = states.count("in-sync")
    connected = in_sync + states.count("behind")
    if "paused" in states:
        return "paused"
    if "failing" in states:
        return f"failing ({states.count('failing')}/{len(members)} members)"
    if not connected:
        return f"offline (0/{len(members)} connected)"
    settled = share.get("settled", True)  # else files are still to write or take in
    word = "in sync" if in_sync == connected and settled else "syncing"
    return f"{word} ({in_sync}/{connected} connected in sync)"


def _peer_state(peer: PeerRow, *, paused: bool) -> str:
    """A ``peers`` row's state word: a link that failed shows as ``failing``."""
    if peer["connected"]:
        return "connected"
    if paused:
        return "paused"
    return "failing" if peer.get("failure") else "offline"


def _peer_name(peer: PeerRow) -> str:
    """The name this device's user gave the peer (``peer name``), with the name the
    peer gives itself after it when they differ; "-" if neither is known."""
    own, given = peer["name"], peer.get("display_name", "")
    if given and own and given != own:
        return f"{given} ({own})"
    return given or own or "-"


def format_peers(result: PeersReply) -> str:
    """The human form of a ``peers`` reply (a ``found_by`` column when the daemon
    reports how devices were found)."""
    now = time.time()
    peers, pending = result["peers"], result["pending"]
    found = any("found_by" in p for p in peers)
    headers = ["DEVICE", "NAME", "ADDRESS", "STATE", "SINCE", "SYNC", "IN", "OUT", "RATE IN",
               "RATE OUT", "PROTO"] + (["FOUND BY"] if found else [])  # fmt: skip
    rows = []
    for peer in peers:
        connected = peer["connected"]
        row = [
            short(peer["device_id"]),
            _peer_name(peer),
            peer_address(peer) or "-",
            _peer_state(peer, paused=bool(result.get("paused"))),
            human.ago(peer["connected_since"] if connected else peer["last_seen"], now),
            human.percent(peer["sync_pct"]),
            human.size(peer["bytes_in"]),
            human.size(peer["bytes_out"]),
            human.rate(peer["rate_in"]) if connected else "-",
            human.rate(peer["rate_out"]) if connected else "-",
            f"v{peer['protocol_version']}" if peer["protocol_version"] else "-",
        ]
        rows.append(row + ([str(peer.get("found_by") or "-")] if found else []))
    for waiting in pending:
        blank = ["-"] * (len(headers) - 5)
        rows.append([short(waiting["device_id"]), waiting["name"] or "-",
                     waiting["address"] or "-", "pending", human.ago(waiting["last_seen"], now),
                     *blank])  # fmt: skip
    if not rows:
        return "no known peers"
    text = table.render(headers, rows, right=[5, 6, 7, 8, 9])
    transfers = _peer_transfers(peers)
    if transfers:
        text += "\n\nTransfers:\n" + "\n".join(f"  {line}" for line in transfers)
    if pending:
        text += f"\n\n{PENDING_HINT}"
    return text
