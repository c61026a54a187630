"""Words and numbers for people: states, byte counts, rates and times (no Qt).

Every function takes plain values from control API results (docs/control-api.md)
and returns short English text for the tray menu and the status window.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from p2psync.control import replies
from p2psync_tray.state import TrayState

STATE_TEXT = {
    TrayState.NOT_RUNNING: "daemon not running",
    TrayState.PAUSED: "paused",
    TrayState.ERROR: "error",
    TrayState.SYNCING: "syncing",
    TrayState.OFFLINE: "offline (no peer connected)",
    TrayState.UP_TO_DATE: "up to date",
}
BYTE_UNITS = ("B", "KiB", "MiB", "GiB", "TiB")  # as the CLI (p2psync.cli.human.size)
SHORT_ID_CHARS = 7  # the first group of a grouped device ID
ALMOST_DONE_PCT = 99.9  # the most a bar shows before the members confirm (as the daemon)


def state_text(state: TrayState) -> str:
    return STATE_TEXT[state]


def format_bytes(count: float) -> str:
    """``1234567`` → ``1.2 MiB``: binary units, as the CLI prints sizes (the CLI's
    formatter is in ``p2psync.cli``, which the tray may not import)."""
    value = float(count)
    for unit in BYTE_UNITS:
        if abs(value) < 1024 or unit == BYTE_UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover


def bytes_of(done: int, total: int) -> str:
    """``0.7/1.4 MiB``: a count of bytes of a total, both in the total's unit (short,
    for a cell drawn on a progress bar)."""
    total_text = format_bytes(total)
    unit = total_text.rsplit(" ", 1)[1]
    if unit == "B":
        return f"{done}/{total} B"
    scale = 1024 ** BYTE_UNITS.index(unit)
    return f"{done / scale:.1f}/{total_text}"


def format_rate(bytes_per_s: float) -> str:
    return f"{format_bytes(bytes_per_s)}/s"


def format_ago(when: float | None, now: float) -> str:
    """How long ago ``when`` (a Unix time; 0 or None: never) was."""
    if not when:
        return "never"
    seconds = max(0.0, now - when)
    if seconds < 5:
        return "just now"
    if seconds < 60:
        return f"{int(seconds)} s ago"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    return time.strftime("%Y-%m-%d", time.localtime(when))


def format_clock(when: float) -> str:
    return time.strftime("%H:%M:%S", time.localtime(when))


def format_until(when: float) -> str:
    """A deadline to the minute, as ``p2psync invite`` prints an invite's expiry."""
    return time.strftime("%Y-%m-%d %H:%M", time.localtime(when))


def as_sentence(text: str) -> str:
    """A daemon's or parser's message as a sentence: capital first, full stop last."""
    text = text.strip()
    if not text:
        return ""
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else f"{text}."


def format_pct(pct: float | None) -> str:
    return "—" if pct is None else f"{pct:.0f} %"


def short_id(device_id: str) -> str:
    return device_id[:SHORT_ID_CHARS]


def peer_name(peer: Mapping[str, Any]) -> str:
    """The name given to a peer here (``peer name``) with the one it announces when
    they differ, else its announced name, else the start of its device ID."""
    announced = str(peer.get("name") or "")
    given = str(peer.get("display_name") or "")
    if given:
        return f"{given} ({announced})" if announced and announced != given else given
    return announced or short_id(str(peer.get("device_id", "")))


def transfer_pct(row: Mapping[str, Any], confirmed: float | None) -> float | None:
    """A progress bar's value for a share or peer not in sync: while files are under
    way (``files_expected``, ``files_to_send``), the share of them that arrived here
    or were sent, at most ALMOST_DONE_PCT (a member's confirmation is still to come);
    else ``confirmed``, the docs the members hold at our version (``in_sync_pct``,
    ``sync_pct``), which on a sending device moves only once its members catch up."""
    got, expected, *_ = replies.receiving(row)
    sent, to_send, *_ = replies.sending(row)
    files = replies.transfer_pct(got + sent, expected + to_send)
    return confirmed if files is None else min(ALMOST_DONE_PCT, files)


def transfer_words(row: Mapping[str, Any]) -> str:
    """The files and bytes of a transfer: ``↓ 412/1,000 files · 68.2/166.0 KiB``
    arriving, ``↑ …`` sent (both, if both; "" for none), the files sent ending with
    those the members were told of and did not ask for (``unasked_words``). A total
    of bytes not known (an older daemon) leaves the bytes so far."""
    words = []
    for arrow, figures in (("↓", replies.receiving(row)), ("↑", replies.sending(row))):
        done, total, done_bytes, total_bytes = figures
        if not total:
            continue
        size = (
            format_bytes(done_bytes) if total_bytes is None else bytes_of(done_bytes, total_bytes)
        )
        unasked = unasked_words(row) if arrow == "↑" else ""
        words.append(f"{arrow} {done:,}/{total:,} {_files(total)} · {size}{unasked}")
    return " · ".join(words)


def unasked_words(row: Mapping[str, Any]) -> str:
    """`` · 3 files not asked for``: the files a member lacks that this link told it
    of and that it has not asked for (``files_unasked``: nothing is sent until it
    asks; one that stays is a file the member does not take), or ""."""
    count = int(row.get("files_unasked") or 0)
    return f" · {count:,} {_files(count)} not asked for" if count else ""


def _files(count: int) -> str:
    return "file" if count == 1 else "files"


def peer_progress(peer: Mapping[str, Any]) -> float | None:
    """The Sync column's percentage of a ``peers`` row (``transfer_pct``)."""
    if not peer.get("connected"):
        return None
    if peer.get("in_sync"):
        return 100.0
    return transfer_pct(peer, peer.get("sync_pct"))


def peer_sync(peer: Mapping[str, Any]) -> str:
    """The Sync column: the percentage, and the files under way with that peer."""
    words = transfer_words(peer) if peer.get("connected") and not peer.get("in_sync") else ""
    pct = format_pct(peer_progress(peer))
    return f"{pct} · {words}" if words else pct


def peer_state(peer: Mapping[str, Any], now: float) -> str:
    """``in sync`` / ``syncing 40 %`` / ``offline, seen 5 min ago`` for a ``peers`` row."""
    if peer.get("connected"):
        if peer.get("in_sync"):
            return "in sync"
        pct = peer_progress(peer)
        return "syncing" if pct is None else f"syncing {format_pct(pct)}"
    seen = peer.get("last_seen")
    if not seen:
        return "never seen"
    return f"offline, seen {format_ago(seen, now)}"


def share_state(share: Mapping[str, Any]) -> str:
    """One share of ``status``: paused, error, syncing 40 %, up to date, writing N
    files to the folder (its members in sync, the files they sent not all written
    here yet: ``files_to_write``) or offline."""
    if share.get("paused"):
        return "paused"
    states = [str(m.get("state")) for m in share.get("members") or []]
    if "paused" in states:
        return "paused"
    if share.get("errors"):
        return "error"
    if "behind" in states:
        return f"syncing {format_pct(share_pct(share))}"
    if share.get("in_sync"):
        return "up to date"
    writing = writing_words(share)
    if writing:
        return writing
    if "in-sync" in states and not share.get("settled", True):
        return "syncing"  # its members in sync, and changes here still to take in
    if not states:
        return "not shared with anyone"
    if set(states) == {"removed-this-device"}:
        return "removed by its members"
    return "offline (no member connected)"


def peer_address(peer: Mapping[str, Any]) -> str:
    """Where a peer is (``replies.peer_address``: where it listens, also when it
    dialed us), or a dash."""
    return replies.peer_address(peer) or "—"


def member_state(member: Mapping[str, Any]) -> str:
    """A share member's state in words; one that is behind while files go between us
    says how many arrived or were sent (``behind · ↓ 412/1,000 files · 68.2 KiB of
    166.0 KiB``)."""
    state = str(member.get("state", "")).replace("-", " ")
    words = transfer_words(member) if member.get("state") == "behind" else ""
    return f"{state} · {words}" if words else state


def share_pct(share: Mapping[str, Any]) -> float | None:
    """The share's bar (``transfer_pct``): while a member is behind, the files under
    way with its members; else the daemon's ``in_sync_pct``."""
    pct = share.get("in_sync_pct")
    if share.get("in_sync") or "behind" not in {m.get("state") for m in share.get("members") or []}:
        return pct
    return transfer_pct(share, pct)


def writing_words(share: Mapping[str, Any]) -> str:
    """``writing 81,234 files to the folder`` (``files_to_write``), or "" for none."""
    count = int(share.get("files_to_write") or 0)
    return f"writing {count:,} {_files(count)} to the folder" if count else ""


def share_progress(share: Mapping[str, Any]) -> str:
    """The Progress column's words: the bar's percentage, then, while files go
    between this device and the members (``files_expected``, ``files_to_send``), how
    many arrived or were sent and their bytes (short: they are drawn on the bar);
    from a daemon that does not report that, the docs still to go
    (``remaining_docs``) and the files the share has (``files``, its manifest's);
    last, the files whose content is here still to write to the folder
    (``files_to_write``)."""
    pct = format_pct(share_pct(share))
    if share.get("in_sync"):
        return pct
    to_write = int(share.get("files_to_write") or 0)
    writing = [f"{to_write:,} to write"] if to_write else []
    words = transfer_words(share)
    if words:
        return " · ".join([pct, words, *writing])
    parts = [pct]
    remaining = share.get("remaining_docs")
    if remaining:
        parts.append(f"{remaining} doc{'s' if remaining != 1 else ''} to go")
    files = share.get("files")
    if files is not None:
        parts.append(f"{files} file{'s' if files != 1 else ''} here")
    parts += writing
    return " · ".join(parts) if len(parts) > 1 else pct


def _apps(counted: Mapping[str, Any]) -> str:
    clients = int(counted.get("clients") or 0)
    return f"{clients} app{'s' if clients != 1 else ''} connected"


def share_problems(share: Mapping[str, Any]) -> str:
    """The files of a share that are not in sync and why, its kept conflict copies,
    and the files apps have open: one line each (empty when there is none)."""
    lines = []
    if share.get("stopped"):
        lines.append(f"Stopped: {share.get('stopped')}")
    for entry in share.get("not_in_sync") or []:
        lines.append(f"Not in sync: {entry.get('path', '?')}: {entry.get('reason', '')}")
    for copy in share.get("conflicts") or []:
        of = f" of {copy.get('path')}" if copy.get("path") else ""
        lines.append(f"Conflict copy{of}: {copy.get('copy', '?')} ({copy.get('why', '')})")
    for app in share.get("apps") or []:
        lines.append(f"Open in apps: {app.get('path', '?')} ({_apps(app)})")
    return "\n".join(lines)


def share_problem_count(share: Mapping[str, Any]) -> str:
    """``2 files, 1 conflict copy`` (``—`` for none): the share's ``not_in_sync``
    entries and kept conflict copies, in a table cell."""
    parts = []
    if share.get("stopped"):
        parts.append("stopped")
    for key, word in (("not_in_sync", "file"), ("conflicts", "conflict copy")):
        count = len(share.get(key) or [])
        if count:
            plural = "conflict copies" if word == "conflict copy" else "files"
            parts.append(f"{count} {word if count == 1 else plural}")
    return ", ".join(parts) or "—"


YLOG_PATH = re.compile(r"\S*\.ylog\b")


def error_sentence(message: str) -> str:
    """An ``error`` event's message for a notification: a path of a doc's log file in
    the daemon's state (``….ylog``) means nothing to the user; say what it is."""
    text = YLOG_PATH.sub("a doc's log file", message)
    return re.sub(r"^share \S+: ", "", text)


def share_label(share: Mapping[str, Any]) -> str:
    """A share's folder name (its last path part)."""
    path = str(share.get("path", ""))
    return path.rstrip("/").rsplit("/", 1)[-1] or path


def event_text(event: Mapping[str, Any]) -> str:
    """One line for an event of the control API's stream."""
    kind = str(event.get("type", ""))
    who = str(event.get("name") or short_id(str(event.get("device", ""))))
    path = str(event.get("path", "a file"))
    texts = {
        "peer-connected": f"{who} connected from {event.get('address', '?')}",
        "peer-disconnected": f"{who} disconnected",
        "pending-device": f"unknown device {who} wants to connect",
        "share-in-sync": f"{event.get('path', event.get('share', ''))} is in sync",
        "paused": "sync paused",
        "resumed": "sync resumed",
        "share-resumed": f"{event.get('path', 'a share')} is back; its share resumed",
        "error": str(event.get("message", "")),
        "file-merged": f"merged concurrent edits of {path}",
        "version-conflict": f"kept the other version of {path} in {event.get('kept', '?')}",
        "path-conflict": f"two files claimed {path}; the other is kept in {event.get('kept', '?')}",
        "case-collision": f"{path} differs from {event.get('winner', '?')} only in case; "
        f"kept in {event.get('kept', '?')}",
        "unsafe-path": f"refused to write {path}: {event.get('reason', '')}",
        "file-skipped": f"skipped {path}: {event.get('reason', '')}",
        "file-error": f"{path}: {event.get('message', '')}",
        "chunk-list-lost": f"left {path} as it is: {event.get('reason', '')}",
        "log-recovered": f"repaired the log of {event.get('doc', 'a doc')}",
        "log-lost": f"the log of {event.get('doc', 'a doc')} was deleted; restored",
        "daemon-ready": f"daemon listening on {event.get('listen', '?')}",
        "events-dropped": f"{event.get('count', 0)} events missed",
        "member-joined": f"{who} joined with an invite",
        "removed-from-share": f"{who} removed this device from share {event.get('share', '')}",
        "joined": f"joined share {event.get('share', '')}",
        "app-connected": f"an app opened {path} ({_apps(event)})",
        "app-disconnected": f"an app closed {path} ({_apps(event)})",
    }
    return texts.get(kind, kind)
