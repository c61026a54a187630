"""File history (issue 18): restoring a deleted folder of 1,000 files, against the
time the same files take to sync to an empty peer, both on two daemons on loopback
in one run."""

from __future__ import annotations

import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.bench_manyfiles import first_scan, generate, tree_digest
from bench.harness import BenchContext, Metric
from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from tests.support.daemons import Device, cli, free_port, wait_for

GROUP = "File history (#18)"
FILES = 1_000
QUICK_FILES = 100
FOLDER = "project"
DEADLINE_S = 1800.0


def run(ctx: BenchContext) -> None:
    count = QUICK_FILES if ctx.quick else FILES
    with tempfile.TemporaryDirectory() as tmp:
        sync_s, restore_s, peer_s = _measure(Path(tmp), count)
    ctx.report(Metric(
        GROUP, f"restoring a deleted folder of {count:,} files", restore_s, "s",
        "the same files' first sync to an empty peer", sync_s, 2.0,
        note=f"{count:,} files in up to 350 folders under one folder (one in ten binary "
        "2 KiB, the rest text of 10 B to 1.4 KiB), scanned by one daemon; the anchor: "
        "from linking a second, empty daemon until its folder is byte-identical; then the "
        "folder is deleted, and once both daemons have it deleted and this one recorded "
        "each deletion, `restore.at` (control socket) to a time before: from the request "
        "until the folder is byte-identical "
        f"to what it was on this device (on the peer too {peer_s:.3g} s after the request)",
    ))  # fmt: skip


def _measure(root: Path, count: int) -> tuple[float, float, float]:
    """(sync to an empty peer, restore of the deleted folder here, restore seen on the
    peer), in seconds."""
    alice, bob = Device(root, "alice"), Device(root, "bob")
    generate(alice.folder / FOLDER, count)
    try:
        alice.start()
        share, _ = first_scan(alice, count)
        cli(bob.home, "share", "add", str(bob.folder), "--id", share, "--create")
        cli(alice.home, "share", "member", "add", share, bob.id)
        cli(bob.home, "share", "member", "add", share, alice.id)
        bob.start(free_port())
        want = tree_digest(alice.folder / FOLDER, lambda _rel: False)
        start = time.time()
        _call(alice, "peer.add", device=bob.id, address=bob.address)
        _call(bob, "peer.add", device=alice.id, address=alice.address)
        synced = _poll(lambda: _digest(bob) == want, "the folder on the empty peer")
        _poll(lambda: _idle(alice) and _idle(bob), "both idle after the sync")
        before = time.time()
        _poll(lambda: time.time() > before + 1, "a second past the versions")
        shutil.rmtree(alice.folder / FOLDER)
        _poll(lambda: not (bob.folder / FOLDER).exists(), "the deletion on the peer")
        _poll(lambda: _live(alice) == 0 and _live(bob) == 0, "no live file on either")
        _poll(lambda: _idle(alice) and _idle(bob), "both idle after the deletion")
        _poll(lambda: _deletions_recorded(alice, share, count), "the deletions recorded")
        start_restore = time.time()
        _call(alice, "restore.at", share=share, dir=FOLDER, time=before)
        restored = _poll(lambda: _digest(alice) == want, "the folder restored")
        on_peer = _poll(lambda: _digest(bob) == want, "the folder restored on the peer")
    finally:
        for device in (alice, bob):
            device.stop(signal.SIGKILL)
    return synced - start, restored - start_restore, on_peer - start_restore


def _digest(device: Device) -> str:
    folder = device.folder / FOLDER
    return tree_digest(folder, lambda _rel: False) if folder.exists() else ""


def _call(on: Device, method: str, **params: Any) -> Any:
    """One request on ``on``'s control socket, from this process (no CLI start-up)."""
    with ControlClient(Home.resolve(on.home).socket_path) as client:
        return client.call(method, **params)


def _deletions_recorded(device: Device, share: str, count: int) -> bool:
    """Whether ``device``'s history knows when each of the ``count`` files was deleted
    (each file's deletion is recorded in its timeline a moment after the mirror
    deletes it; a file deleted at an unknown time is left by ``restore.at``)."""
    files = _call(device, "history.deleted", share=share)["files"]
    return sum(1 for f in files if f.get("deleted") is not None) >= count


def _live(device: Device) -> int:
    shares: list[dict[str, Any]] = _call(device, "status")["shares"]
    share = next(s for s in shares if s["path"] == str(device.folder))
    return int(share.get("files", 0))


def _idle(device: Device) -> bool:
    idle = _call(device, "idle")
    return bool(idle["idle"]) and int(idle["connected"]) >= 1


def _poll(condition: Callable[[], bool], what: str) -> float:
    """Wait until ``condition`` holds (``wait_for``, polled); the wall clock then."""
    wait_for(condition, what, DEADLINE_S)
    return time.time()
