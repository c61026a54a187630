"""Plain files between two real daemons on loopback: save latency, initial folder sync."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import trio

from bench.harness import BenchContext, Metric
from p2psync.watch import DirWatcher
from tests.support.daemons import Device, link, make_share, wait_for

GROUP = "Plain files in a shared folder (issue 4)"
LATENCY_SAMPLES = 200
FOLDER_FILES = 10_000
BINARY_EVERY = 10
"""One file in ten of the mixed folder is binary (synced whole)."""
SYNCTHING_WATCH_DELAY_MS = 10_000.0
"""Syncthing's default ``fsWatcherDelayS``: how long it waits after a change."""
POLL_S = 0.0005


def run(ctx: BenchContext) -> None:
    with _pair() as (alice, bob):
        _save_latency(ctx, alice, bob, 40 if ctx.quick else LATENCY_SAMPLES)
    with _pair() as (alice, bob):
        _initial_sync(ctx, alice, bob, 1_000 if ctx.quick else FOLDER_FILES)


@contextlib.contextmanager
def _pair() -> Iterator[tuple[Device, Device]]:
    """Two devices holding one share (not started), killed on the way out."""
    with tempfile.TemporaryDirectory() as tmp:
        alice, bob = Device(Path(tmp), "alice"), Device(Path(tmp), "bob")
        make_share([alice, bob])
        try:
            yield alice, bob
        finally:
            for device in (alice, bob):
                device.stop(signal.SIGKILL)


def _save_latency(ctx: BenchContext, alice: Device, bob: Device, samples: int) -> None:
    alice.start()
    bob.start()
    link([alice, bob])
    times = save_latencies(alice.folder / "latency.md", bob.folder / "latency.md", samples)
    anchor = _inotify_latency_s(Path(alice.home), 100)
    p50, p99 = statistics.median(times), statistics.quantiles(times, n=100)[98]
    note = (
        f"{samples} saves (truncate + write) of a growing file on A until B's file holds "
        "the same bytes, polled every 0.5 ms; the anchor is the time from a write to "
        "p2psync.watch reporting it (watchdog/inotify) in one process; the debounce "
        "(20 ms of quiet) is part of the value"
    )
    ctx.report(Metric(GROUP, "save on A → file updated on B, p50", p50 * 1e3, "ms",
                      "inotify event latency", anchor * 1e3, None, note=note,
                      limit=50.0))  # fmt: skip
    ctx.report(Metric(GROUP, "save on A → file updated on B, p99", p99 * 1e3, "ms",
                      "inotify event latency", anchor * 1e3, None, limit=150.0,
                      note=f"load average {os.getloadavg()[0]:.1f} during the run on "
                      f"{os.cpu_count()} cores"))  # fmt: skip
    ctx.report(Metric(GROUP, "save on A → file updated on B, p99 vs Syncthing", p99 * 1e3,
                      "ms", "Syncthing's default watcher delay", SYNCTHING_WATCH_DELAY_MS,
                      0.05, note="Syncthing waits 10 s (fsWatcherDelayS) after a change "
                      "before it even scans"))  # fmt: skip


def save_latencies(source: Path, sink: Path, samples: int) -> list[float]:
    """Seconds from each of ``samples`` saves of a growing file at ``source`` (after 5
    not counted) until ``sink``, its copy on a peer, holds the same bytes."""
    text = "a file edited line by line\n"
    source.write_text(text)
    wait_for(lambda: _read(sink) == text.encode(), "the first version at bob")
    times = []
    for i in range(samples + 5):
        text += f"line {i}\n"
        wanted = text.encode()
        start = time.perf_counter()
        source.write_text(text)
        deadline = start + 10
        while _read(sink) != wanted:
            if time.perf_counter() > deadline:
                raise AssertionError("a save did not reach B in 10 s")
            time.sleep(POLL_S)
        if i >= 5:
            times.append(time.perf_counter() - start)
    return times


def _inotify_latency_s(directory: Path, samples: int) -> float:
    """Median time from writing a file to the watcher reporting it."""
    folder = directory / "inotify-probe"
    folder.mkdir()

    async def probe() -> list[float]:
        watcher = DirWatcher([folder])
        times = []
        async with trio.open_nursery() as nursery:
            await nursery.start(watcher.run)
            for i in range(samples):
                start = time.perf_counter()
                (folder / "probe.txt").write_text(f"{i}\n")
                await watcher.next_changes()
                times.append(time.perf_counter() - start)
            nursery.cancel_scope.cancel()
        return times

    times = trio.run(probe)
    return statistics.median(times)


def _make_folder(folder: Path, count: int) -> dict[str, bytes]:
    files = {}
    for i in range(count):
        rel = f"d{i % 50:02d}/s{i % 7}/file{i:05d}" + (".bin" if i % BINARY_EVERY == 0 else ".md")
        if i % BINARY_EVERY == 0:
            data = os.urandom(2048)
        else:
            data = (f"# note {i}\n" + "some text of a note, line after line\n" * (i % 40)).encode()
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        files[rel] = data
    return files


def _initial_sync(ctx: BenchContext, alice: Device, bob: Device, count: int) -> None:
    files = _make_folder(alice.folder, count)
    hashing_s = _read_and_hash_s(alice.folder, files)
    alice.start()
    wait_for(lambda: alice.status()["shares"][-1]["docs"] >= count, "alice's scan", 900)
    bob.start()
    start = time.perf_counter()
    link([alice, bob])
    missing = dict(files)

    def complete() -> bool:
        for rel in list(missing):
            if _read(bob.folder / rel) == missing[rel]:
                del missing[rel]
        return not missing

    wait_for(complete, f"all {count} files at bob", 1800)
    elapsed = time.perf_counter() - start
    ctx.report(Metric(
        GROUP, f"initial sync of a {count:,}-file folder to an empty peer", elapsed, "s",
        "read + SHA-256 of the same files once", hashing_s, 200.0,
        note=f"{count:,} files in {min(count, 350)} folders, one in {BINARY_EVERY} binary "
        "(2 KiB random), the rest text of 10 B to 1.4 KiB; from linking the started "
        "daemons (A had scanned) until B's folder holds every file byte for byte",
    ))  # fmt: skip


def _read_and_hash_s(folder: Path, files: dict[str, bytes]) -> float:
    start = time.perf_counter()
    for rel in files:
        hashlib.sha256((folder / rel).read_bytes()).digest()
    return time.perf_counter() - start


def _read(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
