"""Human forms of ``status`` and ``peers`` replies, for the cases the snapshots miss."""

from __future__ import annotations

import time
from typing import Any

from p2psync.cli import human
from p2psync.cli.statusview import format_peers, format_status
from p2psync.ids import DeviceId

DEVICE = "VFVQ4IY-JPUL65Y-LXKJKCO-PCQA2BX-4MYJWUL-6G2HQVD-CQPQ6ED-KGEYTAD"


def partial(reply: dict[str, Any]) -> Any:
    """A reply as it is given to a formatter here: only the keys the case needs, as an
    older daemon may send (the formatters read the ones a newer daemon adds with
    ``get``); typed as the control API's reply types are not (p2psync/control/replies.py)."""
    return reply


def peer(**fields: Any) -> dict[str, Any]:
    row = {
        "device_id": DEVICE, "name": "bob", "address": "10.0.0.2:22070", "connected": False,
        "connected_since": None, "last_seen": 0.0, "last_error": "", "in_sync": False,
        "sync_pct": None, "bytes_in": 0, "bytes_out": 0, "rate_in": 0.0, "rate_out": 0.0,
        "protocol_version": None, "shares": [],
    }  # fmt: skip
    return {**row, **fields}


def status_of(share: dict[str, Any], state: str) -> dict[str, Any]:
    """A ``status`` reply of a device in ``state`` holding ``share``, nothing else."""
    return {"device_id": "ME", "name": "a", "listen": "x:1", "state": state, "paused": False,
            "shares": [share], "connected": [], "pending": [], "errors": []}  # fmt: skip


def test_peers_show_how_devices_were_found_when_the_daemon_says() -> None:
    now = time.time()
    reply = {
        "peers": [peer(connected=True, connected_since=now - 125, sync_pct=42.5,
                       bytes_in=2048, rate_in=1536.0, protocol_version=1, found_by="mdns")],
        "pending": [],
        "paused": False,
    }  # fmt: skip
    lines = format_peers(partial(reply)).splitlines()
    assert lines[0].endswith("PROTO  FOUND BY")
    assert lines[1].split() == [
        DeviceId.parse(DEVICE).short(), "bob", "10.0.0.2:22070", "connected", "2", "min", "ago",
        "42.5%", "2.0", "KiB", "0", "B", "1.5", "KiB/s", "0", "B/s", "v1", "mdns",
    ]  # fmt: skip


def test_a_peer_that_dialed_us_shows_where_it_listens_not_its_source_port() -> None:
    incoming = peer(address="10.0.0.2:51734", found_by="incoming")
    known = {**incoming, "listen_addresses": ["10.0.0.2:22070"]}
    for row, shown in ((incoming, "10.0.0.2 (it dialed us)"),
                       (known, "10.0.0.2:22070 (it dialed us)")):  # fmt: skip
        text = format_peers(partial({"peers": [row], "pending": []}))
        assert shown in text
        assert "51734" not in text


def test_offline_paused_and_pending_peers() -> None:
    now = time.time()
    offline = format_peers(partial({"peers": [peer(last_seen=now - 7200)], "pending": []}))
    assert "offline  2 h ago" in offline
    assert "FOUND BY" not in offline
    paused = format_peers(partial({"peers": [peer()], "pending": [], "paused": True}))
    assert "paused  never" in paused
    pending = {"device_id": DEVICE, "name": "eve", "address": "10.0.0.9:5", "last_seen": now}
    text = format_peers(partial({"peers": [], "pending": [pending]}))
    assert "eve   10.0.0.9:5  pending  0 s ago" in text
    assert "p2psync share member add SHARE ID" in text
    assert format_peers(partial({"peers": [], "pending": []})) == "no known peers"


def test_status_shows_paused_state_members_and_recent_errors() -> None:
    now = time.time()
    member = {"device_id": DEVICE, "name": "bob", "mode": "receive-only", "state": "paused",
              "sync_pct": None}  # fmt: skip
    share = {"id": "s1", "path": "/docs", "docs": 2, "in_sync": False, "in_sync_pct": None,
             "members": [member], "peers_connected": [], "peers_in_sync": [],
             "errors": [{"type": "error", "time": now - 30, "message": "disk full"}]}  # fmt: skip
    error = {"type": "error", "time": now - 3, "message": "peer broke the rules"}
    status = {"device_id": "ME", "name": "alice", "listen": "0.0.0.0:22070", "state": "paused",
              "paused": True, "shares": [share], "connected": [], "pending": [],
              "errors": [error]}  # fmt: skip
    text = format_status(partial(status))
    assert "State   paused" in text
    assert "s1     /docs     2       -  paused     -" in text  # no docs_loaded: an older daemon
    assert "receive-only  paused" in text
    assert text.endswith("Recent errors:\n  3 s ago: peer broke the rules\n  30 s ago: disk full")


def test_a_paused_share_says_so_even_without_members() -> None:
    share = {"id": "s2", "path": "/p", "docs": 0, "paused": True, "in_sync": False,
             "in_sync_pct": None, "members": [], "errors": []}  # fmt: skip
    status = {"device_id": "ME", "name": "a", "listen": "x:1", "state": "up-to-date",
              "paused": False, "shares": [share], "connected": [], "pending": [],
              "errors": []}  # fmt: skip
    assert "s2     /p       0       -  paused (this share)     -" in format_status(partial(status))


def test_status_shows_how_many_docs_are_loaded_and_their_size() -> None:
    share = {"id": "s3", "path": "/q", "docs": 2000, "docs_loaded": 3, "loaded_bytes": 2048,
             "in_sync": True, "in_sync_pct": 100.0, "members": [], "errors": []}  # fmt: skip
    text = format_status(partial(status_of(share, "up-to-date")))
    assert "DOCS       LOADED" in text
    assert "s3     /q    2000  3 (2.0 KiB)" in text


def test_a_failing_member_says_why_and_when_it_is_tried_again() -> None:
    now = time.time()
    error = {"code": "frame-too-large", "message": "peer VFVQ4IY sent a frame over the limit",
             "share": "s1", "doc": "big.txt", "time": now - 2, "retry_at": now + 40.4}  # fmt: skip
    member = {"device_id": DEVICE, "name": "bob", "mode": "send-receive", "state": "failing",
              "sync_pct": None, "error": error}  # fmt: skip
    share = {"id": "s1", "path": "/docs", "docs": 2, "in_sync": False, "in_sync_pct": None,
             "members": [member], "errors": []}  # fmt: skip
    text = format_status(partial(status_of(share, "failing")))
    assert "State   failing (a member's link fails, see below)" in text
    assert "failing (1/1 members)" in text
    short = DeviceId.parse(DEVICE).short()
    assert text.endswith(
        f"Failing links:\n  {short} (bob): peer VFVQ4IY sent a frame over the limit; "
        "next try in 40 s"
    )
    failed = {"peers": [peer(last_seen=now - 5, failure=error)], "pending": []}
    peers = format_peers(partial(failed))
    assert "failing  5 s ago" in peers


def test_a_member_that_removed_this_device_is_said_so_and_not_waited_for() -> None:
    member = {"device_id": DEVICE, "name": "bob", "mode": "send-receive",
              "state": "removed-this-device", "sync_pct": None, "error": None}  # fmt: skip
    share = {"id": "s1", "path": "/docs", "docs": 2, "in_sync": False, "in_sync_pct": None,
             "members": [member], "errors": []}  # fmt: skip
    text = format_status(partial(status_of(share, "up-to-date")))
    assert "removed (see below)" in text
    assert text.endswith(
        f"Removed:\n  s1: {DeviceId.parse(DEVICE).short()} (bob) removed this device from the "
        "share; nothing of it is exchanged with that member, and the files here stay"
    )
    other = {**member, "device_id": "OTHER", "name": "", "state": "in-sync"}
    share["members"] = [member, other]
    assert "in sync (1/1 connected in sync)" in format_status(partial(status_of(share, "x")))


def test_peers_show_the_name_given_here_before_the_peers_own() -> None:
    named = format_peers(partial({"peers": [peer(display_name="laptop")], "pending": []}))
    assert named.splitlines()[1].split()[1:3] == ["laptop", "(bob)"]
    same = format_peers(partial({"peers": [peer(display_name="bob")], "pending": []}))
    assert same.splitlines()[1].split()[1:3] == ["bob", "10.0.0.2:22070"]
    unnamed = format_peers(partial({"peers": [peer(name="", display_name="")], "pending": []}))
    assert unnamed.splitlines()[1].split()[1] == "-"


def test_status_says_what_a_member_still_sends_while_it_is_behind() -> None:
    member = {"device_id": DEVICE, "name": "bob", "mode": "send-receive", "sync_pct": 41.2,
              "error": None, "files_expected": 1000, "files_received": 412,
              "bytes_received": 69_800}  # fmt: skip
    share = {"id": "s4", "path": "/r", "docs": 413, "in_sync": False, "in_sync_pct": 41.2,
             "members": [{**member, "state": "behind"}], "errors": []}  # fmt: skip
    text = format_status(partial(status_of(share, "syncing")))
    # from an older daemon (no bytes expected): the bytes so far
    assert text.endswith("\n  s4 from VFVQ4IY (bob): 412 of 1,000 files (41.2%), 68.2 KiB")
    member |= {"bytes_expected": 170_000, "files_to_send": 0}
    share["members"] = [{**member, "state": "behind"}]
    text = format_status(partial(status_of(share, "syncing")))
    assert "412 of 1,000 files (41.2%), 68.2 KiB of 166.0 KiB (41.1%)" in text
    assert "Sending" not in text
    share["members"] = [{**member, "state": "in-sync", "files_received": 1000}]
    assert "Receiving" not in format_status(partial(status_of(share, "up-to-date")))


def test_status_says_how_many_files_are_still_to_write_to_a_folder() -> None:
    # a first sync's docs all here, the member in sync, the mirror still writing
    member = {"device_id": DEVICE, "name": "bob", "mode": "send-receive", "sync_pct": 100.0,
              "error": None, "state": "in-sync", "files_expected": 0,
              "files_to_send": 0}  # fmt: skip
    share = {"id": "s4", "path": "/r", "docs": 100_000, "in_sync": False, "in_sync_pct": 100.0,
             "settled": False, "files_to_write": 81_234, "members": [member],
             "errors": []}  # fmt: skip
    text = format_status(partial(status_of(share, "syncing")))
    assert text.endswith("\n\nFolders:\n  s4: writing 81,234 files to the folder (/r)")
    assert "syncing (1/1 connected in sync)" in text  # not "in sync": files to write
    share["files_to_write"] = 1
    assert "s4: writing 1 file to the folder (/r)" in format_status(
        partial(status_of(share, "syncing"))
    )
    done = {**share, "files_to_write": 0, "settled": True, "in_sync": True}
    text = format_status(partial(status_of(done, "up-to-date")))
    assert "Folders" not in text
    assert "in sync (1/1 connected in sync)" in text


def sending_to_bob(sends: dict[str, Any]) -> str:
    """``status`` as text while this device sends bob (behind) what ``sends`` says."""
    member = {"device_id": DEVICE, "name": "bob", "mode": "send-receive", "sync_pct": 0.1,
              "error": None, "state": "behind", **sends}  # fmt: skip
    share = {"id": "s4", "path": "/r", "docs": 1000, "in_sync": False, "in_sync_pct": 0.1,
             "members": [member], "errors": []}  # fmt: skip
    return format_status(partial(status_of(share, "syncing")))


def test_status_and_peers_say_what_this_device_sends_a_member_behind() -> None:
    sends = {"files_to_send": 1000, "files_sent": 250, "bytes_to_send": 200_000,
             "bytes_sent": 51_200, "files_expected": 0}  # fmt: skip
    text = sending_to_bob(sends)
    line = "s4 to VFVQ4IY (bob): 250 of 1,000 files (25.0%), 50.0 KiB of 195.3 KiB (25.6%)"
    assert f"Sending:\n  {line}" in text
    assert "Receiving" not in text
    peers = format_peers(partial({"peers": [peer(connected=True, **sends)], "pending": []}))
    assert peers.endswith("Transfers:\n  VFVQ4IY (bob): sending 250 of 1,000 files (25.0%), "
                          "50.0 KiB of 195.3 KiB (25.6%)")  # fmt: skip
    in_sync = peer(connected=True, in_sync=True, **sends)
    assert "Transfers" not in format_peers(partial({"peers": [in_sync], "pending": []}))


def test_status_and_peers_say_why_a_file_a_member_lacks_does_not_go() -> None:
    sends = {"files_to_send": 1, "files_sent": 0, "bytes_to_send": 1_024, "bytes_sent": 0,
             "files_expected": 0, "files_unasked": 1}  # fmt: skip
    text = sending_to_bob(sends)
    assert text.endswith("s4 to VFVQ4IY (bob): 0 of 1 files (0%), 0 B of 1.0 KiB (0%); "
                         "it has not asked for 1 file it lacks")  # fmt: skip
    peers = format_peers(partial({"peers": [peer(connected=True, **sends)], "pending": []}))
    assert peers.endswith("; it has not asked for 1 file it lacks")


def test_a_name_that_is_not_printable_cannot_break_a_line() -> None:
    assert human.name("plain name.txt") == "plain name.txt"
    assert human.name("new\nline.txt") == "new\\nline.txt"
    assert human.name("bad\udcffbyte.txt") == "bad\\udcffbyte.txt"  # not UTF-8 on disk
    problems = [{"path": "new\nline.txt", "kind": "file-skipped", "reason": "not synced"}]
    share = {"id": "s1", "path": "/docs", "docs": 1, "in_sync": False, "in_sync_pct": None,
             "members": [], "errors": [], "not_in_sync": problems}  # fmt: skip
    status = {"device_id": "ME", "name": "a", "listen": "x:1", "state": "not-in-sync",
              "paused": False, "shares": [share], "connected": [], "pending": [],
              "errors": []}  # fmt: skip
    text = format_status(partial(status))
    assert "  s1: new\\nline.txt: not synced" in text.splitlines()
