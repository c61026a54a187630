"""Words for people and the choice of notifications (pure logic, no Qt)."""

from __future__ import annotations

from p2psync_tray.describe import (
    event_text,
    format_ago,
    format_bytes,
    peer_state,
    share_label,
    share_state,
)
from p2psync_tray.notifications import Kind, notification_for


def test_bytes_use_powers_of_a_thousand() -> None:
    assert format_bytes(0) == "0 B"
    assert format_bytes(999) == "999 B"
    assert format_bytes(1234567) == "1.2 MB"


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
    assert share_label({"path": "/home/ann/Docs/"}) == "Docs"


def test_every_mirror_event_has_a_sentence_of_its_own() -> None:
    for kind in ("file-merged", "path-conflict", "case-collision", "version-conflict",
                 "unsafe-path", "file-skipped", "file-error", "log-lost"):  # fmt: skip
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
