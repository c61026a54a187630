"""Made-up control API results for the window's layout tests (no daemon): two shares
and three peers, as a new user's device looks after inviting two devices."""

from __future__ import annotations

from typing import Any

from p2psync_tray.link import Snapshot

DEVICE = "AAAAAAA-BBBBBBB-CCCCCCC-DDDDDDD-EEEEEEE-FFFFFFF-GGGGGGG-HHHHHHH"
PEER_IDS = [f"{c * 7}-BBBBBBB-CCCCCCC-DDDDDDD-EEEEEEE-FFFFFFF-GGGGGGG-HHHHHHH" for c in "PQR"]
SHARE_IDS = ["s7x2kq4m9a", "d3f8h1j5n0"]


def member(device: str, state: str, pct: float | None) -> dict[str, Any]:
    return {"device_id": device, "name": "", "mode": "send-receive", "state": state,
            "sync_pct": pct, "error": None}  # fmt: skip


def sample_status(now: float) -> dict[str, Any]:
    shares = [
        {"id": SHARE_IDS[0], "path": "/home/ana/P2PSync", "docs": 3, "files": 3,
         "peers_connected": [PEER_IDS[0]], "in_sync": True, "in_sync_pct": 100.0,
         "paused": False, "not_in_sync": [], "conflicts": [], "errors": [],
         "members": [member(PEER_IDS[0], "in-sync", 100.0)]},
        {"id": SHARE_IDS[1], "path": "/home/ana/Documents/thesis", "docs": 1000, "files": 412,
         "peers_connected": PEER_IDS[:2], "in_sync": False, "in_sync_pct": 70.6,
         "remaining_docs": 588,
         "paused": False, "errors": [],
         "not_in_sync": [{"path": "figures/big.bin", "kind": "file-skipped",
                          "reason": "not a text file p2psync syncs"}],
         "conflicts": [{"copy": "notes.2026-12-05T10-00-00.PPPPPPP.md", "path": "notes.md",
                        "why": "overwritten", "when": now - 60, "device": "PPPPPPP",
                        "size": 120}],
         "members": [member(PEER_IDS[0], "behind", 41.2), member(PEER_IDS[1], "in-sync", 100.0),
                     member(PEER_IDS[2], "offline", None)]},
    ]  # fmt: skip
    return {"device_id": DEVICE, "name": "ana-laptop", "listen": "0.0.0.0:22000",
            "daemon_version": "0.1.0", "state": "syncing", "paused": False, "shares": shares,
            "connected": PEER_IDS[:2], "pending": [], "errors": []}  # fmt: skip


def sample_peers(now: float) -> dict[str, Any]:
    def peer(i: int, name: str, connected: bool, **more: Any) -> dict[str, Any]:
        return {"device_id": PEER_IDS[i], "name": name, "connected": connected,
                "last_seen": now - 300 * (not connected), "in_sync": False, "bytes_in": 3_500_000,
                "bytes_out": 20_480, "rate_in": 250_000.0, "rate_out": 512.0,
                "protocol_version": 1, "sync_pct": 41.2 if connected else None,
                "last_error": "", **more}  # fmt: skip

    peers = [
        peer(0, "ana-desktop", True, address="192.168.1.20:22000", found_by="static"),
        peer(1, "bo-vm", True, address="192.168.1.31:53124", found_by="incoming"),
        peer(2, "carl-phone", False, address="192.168.1.40:22000", found_by="mdns"),
    ]
    return {"peers": peers, "pending": [], "paused": False, "mdns": True, "discovered": []}


def sample_snapshot(now: float) -> Snapshot:
    return Snapshot(sample_status(now), sample_peers(now), now)


class FakeLink:
    """Stands in for a DaemonLink where a dialog only keeps it (nothing is asked)."""

    def ask(self, *args: Any, **kwargs: Any) -> None:
        raise AssertionError("the layout tests ask the daemon nothing")
