"""Two real daemons (subprocesses) on loopback: latency, throughput, initial sync bytes."""

from __future__ import annotations

import base64
import os
import signal
import socket
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pycrdt

from bench.harness import BenchContext, Metric
from bench.traces import load_trace, trace_updates
from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.errors import ControlError
from p2psync.replica.doc import DocReplica
from p2psync.storage import DocLog, append_update, read_updates
from p2psync.storage.layout import log_path
from tests.support.daemons import Device, link, make_share, wait_for

GROUP = "Sync between two daemons on loopback"
LATENCY_SAMPLES = 200
FRAME_UPDATES = 100
POLL_S = 0.0002


def run(ctx: BenchContext) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        alice, bob = Device(Path(tmp), "alice"), Device(Path(tmp), "bob")
        make_share([alice, bob])
        try:
            _initial_sync(ctx, alice, bob)
            _latency(ctx, alice, bob, 50 if ctx.quick else LATENCY_SAMPLES)
            _throughput(ctx, alice, bob)
        finally:
            for device in (alice, bob):
                device.stop(signal.SIGKILL)


def _initial_sync(ctx: BenchContext, alice: Device, bob: Device) -> None:
    updates = trace_updates("automerge-paper")
    end = load_trace("automerge-paper").end_content
    state = DocReplica("paper", updates).full_state()
    target = log_path(alice.folder, "paper.md")
    target.parent.mkdir(parents=True, exist_ok=True)
    append_update(target, state)
    alice.start()
    bob.start()
    link([alice, bob])
    wait_for(lambda: bob.text("paper.md") == end, "the initial sync", deadline_s=120)
    with ControlClient(Home(bob.home).socket_path) as client:
        peers = client.call("peers")["peers"]
    received = sum(p["bytes_in"] for p in peers)
    ctx.report(Metric(
        GROUP, "initial sync of automerge-paper: bytes received", received, "bytes",
        "snapshot size", len(state), 1.05,
        note="frame bytes the empty peer received (hello, auth, index, SyncStep2), "
        "before TLS record overhead",
    ))  # fmt: skip


def _latency(ctx: BenchContext, alice: Device, bob: Device, samples: int) -> None:
    doc: pycrdt.Doc[Any] = pycrdt.Doc(client_id=4242)
    text = doc.get("content", type=pycrdt.Text)
    source, sink = log_path(alice.folder, "latency.md"), log_path(bob.folder, "latency.md")
    times: list[float] = []
    for i in range(samples + 5):
        before = doc.get_state()
        text.insert(len(text), f"{i} ")
        update = doc.get_update(before)
        append_update(source, update)  # another app appends on A: durable there
        start = time.perf_counter()
        deadline = start + 10
        while not (sink.exists() and _holds(sink, i)):
            if time.perf_counter() > deadline:
                raise AssertionError("an update did not reach B in 10 s")
            time.sleep(POLL_S)
        if i >= 5:  # the first ones also create the doc on both sides
            times.append(time.perf_counter() - start)
    anchor = _loopback_rtt_s() + _fsync_s(Path(alice.home))
    p50, p99 = statistics.median(times), statistics.quantiles(times, n=100)[98]
    note = (
        "from another process's append to A's log being durable to the update being "
        "durable in B's log (B's fdatasync included); polled every 0.2 ms"
    )
    ctx.report(Metric(GROUP, "propagation latency p50", p50 * 1e3, "ms",
                      "loopback RTT + one fdatasync", anchor * 1e3, None, note=note,
                      limit=5.0))  # fmt: skip
    ctx.report(Metric(GROUP, "propagation latency p99", p99 * 1e3, "ms",
                      "loopback RTT + one fdatasync", anchor * 1e3, None, limit=20.0))  # fmt: skip


def _holds(path: Path, index: int) -> bool:
    doc = DocReplica("x", read_updates(path))
    return doc.text().endswith(f"{index} ")


def _throughput(ctx: BenchContext, alice: Device, bob: Device) -> None:
    updates = trace_updates("automerge-paper", client_id=777)
    if ctx.quick:
        updates = updates[:20_000]
    apply_s = _apply_all_s(updates)
    expected = DocReplica("x", updates).text()
    source = log_path(alice.folder, "throughput.md")
    source.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with DocLog.open(source).log as doclog:  # an app writing its edits as fast as it can
        for i in range(0, len(updates), FRAME_UPDATES):
            doclog.append(updates[i : i + FRAME_UPDATES])
    wait_for(lambda: _export_text(bob, "throughput.md") == expected, "throughput", 300)
    elapsed = time.perf_counter() - start
    rate, anchor_rate = len(updates) / elapsed, len(updates) / apply_s
    ctx.report(Metric(
        GROUP, "sustained throughput A → B", rate, "updates/s",
        "pycrdt in-memory apply rate", anchor_rate, 0.5, lower_is_better=False,
        note=f"{len(updates):,} trace updates appended to A's log in records of "
        f"{FRAME_UPDATES}, until B holds the final text",
    ))  # fmt: skip


def _export_text(device: Device, name: str) -> str | None:
    with ControlClient(Home(device.home).socket_path) as client:
        status = client.call("status")
        share = status["shares"][-1]["id"] if status["shares"] else ""
        try:
            reply = client.call("doc.export", share=share, doc=name)
        except ControlError:
            return None
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    doc.apply_update(base64.b64decode(reply["update"]))
    return str(doc.get("content", type=pycrdt.Text))


def _apply_all_s(updates: list[bytes]) -> float:
    doc: pycrdt.Doc[Any] = pycrdt.Doc()
    start = time.perf_counter()
    for update in updates:
        doc.apply_update(update)
    return time.perf_counter() - start


def _loopback_rtt_s() -> float:
    """Median round trip of a small message over TCP on 127.0.0.1."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def echo() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(64):
                conn.sendall(data)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    times = []
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for _ in range(200):
            start = time.perf_counter()
            client.sendall(b"x")
            client.recv(64)
            times.append(time.perf_counter() - start)
    thread.join(timeout=5)
    server.close()
    return statistics.median(times)


def _fsync_s(directory: Path) -> float:
    """Median time of one small append + fdatasync on the daemons' filesystem."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    times = []
    try:
        for _ in range(50):
            start = time.perf_counter()
            os.write(fd, b"x" * 64)
            os.fdatasync(fd)
            times.append(time.perf_counter() - start)
    finally:
        os.close(fd)
        path.unlink()
    return statistics.median(times)
