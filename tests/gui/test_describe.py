"""Words for people and the choice of notifications (pure logic, no Qt)."""

from __future__ import annotations

from p2psync.cli.human import rate, size
from p2psync.cli.statusview import unasked_text
from p2psync_tray.describe import (
    event_text,
    format_ago,
    format_bytes,
    format_rate,
    member_state,
    peer_address,
    peer_state,
    peer_sync,
    share_label,
    share_pct,
    share_problems,
    share_progress,
    share_state,
    transfer_words,
)
from p2psync_tray.notifications import Kind, notification_for


def test_bytes_use_the_clis_binary_units() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(1023) == "1023 B"
    assert format_bytes(1234567) == "1.2 MiB"
    for count in (0, 1, 999, 1000, 1024, 20_480, 1_500_000, 3 * 2**30, 7 * 2**40):
        assert format_bytes(count) == size(count)
        assert format_rate(count) == rate(count)


def test_an_incoming_peers_address_is_not_its_source_port() -> None:
    dialed = {"address": "192.168.1.20:22000", "found_by": "static"}
    assert peer_address(dialed) == "192.168.1.20:22000"
    incoming = {"address": "192.168.1.31:53124", "found_by": "incoming"}
    assert peer_address(incoming) == "192.168.1.31 (it dialed us)"
    assert peer_address({"address": "[fe80::1%eth0]:40000", "found_by": "incoming"}) == (
        "[fe80::1%eth0] (it dialed us)"
    )
    assert peer_address({"address": ""}) == "—"
    known = {**incoming, "listen_addresses": ["192.168.1.31:22000", "10.0.0.5:22000"]}
    assert peer_address(known) == "192.168.1.31:22000 (it dialed us)"


def test_first_sync_progress_counts_the_files_that_arrived() -> None:
    arriving = {"in_sync": False, "in_sync_pct": 0.0, "files": 412}
    assert share_progress(arriving) == "0 % · 412 files here"
    assert share_progress({**arriving, "files": 1}) == "0 % · 1 file here"
    assert share_progress({"in_sync": True, "in_sync_pct": 100.0, "files": 1000}) == "100 %"
    assert share_progress({"in_sync": False, "in_sync_pct": None}) == "—"
    mid_way = {"in_sync": False, "in_sync_pct": 58.8, "remaining_docs": 412, "files": 588}
    assert share_progress(mid_way) == "59 % · 412 docs to go · 588 files here"
    assert share_progress({**mid_way, "remaining_docs": 1}).startswith("59 % · 1 doc to go ·")
    assert share_progress({**mid_way, "remaining_docs": 0}) == "59 % · 588 files here"
    receiving = {**mid_way, "files_expected": 1000, "files_received": 588, "bytes_received": 69_800}
    assert share_progress(receiving) == "59 % · ↓ 588/1,000 files · 68.2 KiB"  # older daemon
    one = {**receiving, "files_expected": 1, "files_received": 0, "bytes_received": 0}
    assert share_progress(one) == "59 % · ↓ 0/1 file · 0 B"


def test_a_share_whose_files_are_still_to_write_says_how_many() -> None:
    # a first sync's docs all here, the member in sync, the folder's mirror behind
    share = {"in_sync": False, "in_sync_pct": 100.0, "members": [{"state": "in-sync"}],
             "settled": False, "files": 100_000, "files_to_write": 81_234}  # fmt: skip
    assert share_state(share) == "writing 81,234 files to the folder"
    assert share_progress(share) == "100 % · 100000 files here · 81,234 to write"
    assert share_state({**share, "files_to_write": 1}) == "writing 1 file to the folder"
    # changes made here still to take in: syncing, not "offline"
    assert share_state({**share, "files_to_write": 0}) == "syncing"
    # still receiving: the bar's state, the files to write after the transfer
    receiving = {**share, "in_sync_pct": 40.0, "members": [{"state": "behind"}],
                 "files_expected": 1000, "files_received": 412, "bytes_received": 69_800,
                 "bytes_expected": 170_000, "files_to_write": 12}  # fmt: skip
    assert share_state(receiving) == "syncing 41 %"
    assert share_progress(receiving) == "41 % · ↓ 412/1,000 files · 68.2/166.0 KiB · 12 to write"
    assert share_state({**share, "in_sync": True, "files_to_write": 0}) == "up to date"


def test_both_ends_of_a_first_sync_show_files_and_bytes_and_a_bar_between_0_and_100() -> None:
    behind = [{"state": "behind"}]
    receiver = {"in_sync": False, "in_sync_pct": 40.0, "members": behind,
                "files_expected": 1000, "files_received": 412, "bytes_received": 69_800,
                "bytes_expected": 170_000}  # fmt: skip
    assert share_progress(receiver) == "41 % · ↓ 412/1,000 files · 68.2/166.0 KiB"
    assert share_pct(receiver) == 41.2  # the files arrived
    # the sender: its members have confirmed nothing yet, it has sent a quarter
    sender = {"in_sync": False, "in_sync_pct": 0.0, "members": behind, "files_to_send": 1000,
              "files_sent": 250, "bytes_sent": 51_200, "bytes_to_send": 200_000}  # fmt: skip
    assert share_pct(sender) == 25.0
    assert share_progress(sender) == "25 % · ↑ 250/1,000 files · 50.0/195.3 KiB"
    assert share_state(sender) == "syncing 25 %"
    assert share_pct({**sender, "files_sent": 1000}) == 99.9  # sent; not confirmed yet
    assert share_pct({**sender, "in_sync": True, "in_sync_pct": 100.0}) == 100.0
    assert share_pct({**sender, "members": [{"state": "offline"}]}) == 0.0
    peer = {"connected": True, "in_sync": False, "sync_pct": 0.0, **sender}
    assert peer_sync(peer) == "25 % · ↑ 250/1,000 files · 50.0/195.3 KiB"
    assert peer_state(peer, 0) == "syncing 25 %"
    assert peer_sync({**peer, "in_sync": True}) == "100 %"
    assert peer_sync({"connected": False}) == "—"
    member = {"state": "behind", **sender}
    assert member_state(member) == "behind · ↑ 250/1,000 files · 50.0/195.3 KiB"


def test_the_files_a_member_did_not_ask_for_follow_the_files_sent_as_the_cli_counts_them() -> None:
    behind = [{"state": "behind"}]
    sender = {"in_sync": False, "in_sync_pct": 0.0, "members": behind, "files_to_send": 10,
              "files_sent": 7, "bytes_sent": 7_168, "bytes_to_send": 10_240,
              "files_unasked": 3}  # fmt: skip
    sending = "↑ 7/10 files · 7.0/10.0 KiB · 3 files not asked for"
    assert share_progress(sender) == f"70 % · {sending}"
    peer = {"connected": True, "in_sync": False, "sync_pct": 0.0, **sender}
    assert peer_sync(peer) == f"70 % · {sending}"
    assert member_state({"state": "behind", **sender}) == f"behind · {sending}"
    one = {**sender, "files_unasked": 1}
    assert share_progress(one).endswith("10.0 KiB · 1 file not asked for")
    assert unasked_text(one) == "; it has not asked for 1 file it lacks"  # the CLI's words
    both = {**sender, "files_expected": 4, "files_received": 1, "bytes_received": 0,
            "bytes_expected": 2_048}  # fmt: skip
    assert transfer_words(both) == f"↓ 1/4 files · 0.0/2.0 KiB · {sending}"  # arriving: none
    assert "not asked" not in share_progress({**sender, "files_unasked": 0})


def test_an_error_notification_names_no_log_file_of_the_state() -> None:
    ylog = "/home/ana/.config/p2psync/state/shares/s7x2/docs/ab/0123456789abcdef.ylog"
    event = {"type": "error", "share": "s7x2", "doc": "0123", "time": 1.0,
             "message": f"cannot append to {ylog}: No such file or directory"}  # fmt: skip
    notification = notification_for(event)
    assert notification is not None
    assert ".ylog" not in notification.text
    assert notification.text == "cannot append to a doc's log file: No such file or directory"
    stopped = {"type": "error", "share": "s7x2", "time": 2.0,
               "message": "share s7x2: the folder /home/ana/Docs has no .p2psync marker any more "
               "(moved?); the share is stopped and no file is read as deleted"}  # fmt: skip
    notification = notification_for(stopped)
    assert notification is not None
    assert notification.text.startswith("the folder /home/ana/Docs has no .p2psync marker")
    assert "the share is stopped" in notification.text


def test_ago() -> None:
    assert format_ago(0, 100.0) == "never"
    assert format_ago(99.0, 100.0) == "just now"
    assert format_ago(70.0, 100.0) == "30 s ago"
    assert format_ago(40.0, 100.0) == "1 min ago"
    assert format_ago(100.0 - 7200, 100.0) == "2 h ago"


def test_peer_states() -> None:
    assert peer_state({"connected": True, "in_sync": True}, 0) == "in sync"
    assert peer_state({"connected": True, "in_sync": False, "sync_pct": 42.4}, 0) == "syncing 42 %"
    assert peer_state({"connected": False, "last_seen": 0}, 0) == "never seen"
    offline = {"connected": False, "last_seen": 1000.0}
    assert peer_state(offline, 1300.0) == "offline, seen 5 min ago"


def test_share_states() -> None:
    member = {"state": "behind"}
    assert share_state({"members": [member], "in_sync_pct": 50.0}) == "syncing 50 %"
    assert share_state({"members": [{"state": "in-sync"}], "in_sync": True}) == "up to date"
    assert share_state({"paused": True, "members": []}) == "paused"
    assert share_state({"members": [{"state": "offline"}]}) == "offline (no member connected)"
    assert share_state({"members": [], "errors": [{"message": "x"}]}) == "error"
    removed = {"state": "removed-this-device"}
    assert share_state({"members": [removed]}) == "removed by its members"
    assert member_state(removed) == "removed this device"
    text = event_text({"type": "removed-from-share", "share": "s1", "device": "VFVQ4IY-X"})
    assert text == "VFVQ4IY removed this device from share s1"
    assert share_label({"path": "/home/ann/Docs/"}) == "Docs"


def test_every_mirror_event_has_a_sentence_of_its_own() -> None:
    for kind in ("file-merged", "path-conflict", "case-collision", "version-conflict",
                 "unsafe-path", "file-skipped", "file-error", "chunk-list-lost",
                 "log-lost"):  # fmt: skip
        text = event_text({"type": kind, "path": "a/b.md", "doc": "a/b.md"})
        assert "a/b.md" in text, kind


def test_a_share_resumed_names_its_folder() -> None:
    text = event_text({"type": "share-resumed", "share": "s", "path": "/home/ann/Docs"})
    assert text == "/home/ann/Docs is back; its share resumed"


def test_notifications_per_kind() -> None:
    connected = notification_for({"type": "peer-connected", "name": "beta", "address": "1.2.3.4:5"})
    assert connected is not None
    assert connected.kind is Kind.PEERS
    assert "beta" in connected.text
    merged = notification_for({"type": "file-merged", "path": "notes.md"})
    assert merged is not None
    assert merged.kind is Kind.MERGES
    assert "notes.md" in merged.text
    error = notification_for({"type": "error", "message": "disk full"})
    assert error is not None
    assert error.warning
    assert notification_for({"type": "share-in-sync"}) is None
    kept = notification_for({"type": "case-collision", "path": "readme.md",
                             "winner": "README.md", "kept": ".p2psync/conflicts/x"})  # fmt: skip
    assert kept is not None
    assert kept.kind is Kind.MERGES
    assert kept.text.startswith("readme.md differs from README.md only in case; kept in")
    assert event_text({"type": "pending-device", "device": "ABCDEFG-HIJ"}).endswith(
        "ABCDEFG wants to connect"
    )


def test_app_events_and_open_files_name_the_file_and_the_count() -> None:
    opened = event_text({"type": "app-connected", "path": "notes.txt", "clients": 2})
    assert opened == "an app opened notes.txt (2 apps connected)"
    closed = event_text({"type": "app-disconnected", "path": "notes.txt", "clients": 0})
    assert closed == "an app closed notes.txt (0 apps connected)"
    share = {"apps": [{"path": "notes.txt", "clients": 1}]}
    assert share_problems(share) == "Open in apps: notes.txt (1 app connected)"
    assert share_problems({"apps": []}) == ""


def test_a_member_behind_says_how_many_of_its_files_arrived() -> None:
    member = {"state": "behind", "files_expected": 1500, "files_received": 621}
    assert member_state(member) == "behind · ↓ 621/1,500 files · 0 B"
    assert member_state({**member, "state": "in-sync"}) == "in sync"
    assert member_state({"state": "behind"}) == "behind"  # an older daemon
