"""A 10,000-doc share between two real daemons (docs/storage.md): idle memory, start-up to
ready from the persisted index, and a reconnect after one doc changed.

Both devices start with the same logs (written straight into their shares, as a
restored backup would be); the first start of each rebuilds its index from them.
Memory and start-up are judged against a bare Python process that imports the same
libraries; the reconnect's bytes against a full index exchange of the same share.
"""

from __future__ import annotations

import base64
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pycrdt

from bench.harness import REPO_DIR, BenchContext, Metric
from p2psync.control.client import ControlClient
from p2psync.control.home import Home
from p2psync.errors import ControlError
from p2psync.storage import format as fmt
from p2psync.storage.layout import docs_dir, log_path
from tests.support.daemons import Device, free_port, link, make_share, wait_for

GROUP = "Scale: a 10,000-doc share (lazy docs, persisted index)"
DOCS = 10_000
QUICK_DOCS = 1_000
POLL_S = 0.002
IMPORTS = "import p2psync.daemon.daemon, p2psync.cli.main, pycrdt, trio, zeroconf, watchdog"
MIB = 1024 * 1024


def run(ctx: BenchContext) -> None:
    count = QUICK_DOCS if ctx.quick else DOCS
    with tempfile.TemporaryDirectory() as tmp:
        alice, bob = Device(Path(tmp), "alice"), Device(Path(tmp), "bob")
        share = make_share([alice, bob])
        _seed(alice, bob, count)
        port = free_port()
        try:
            alice.start()
            bob.start(port)
            first = time.perf_counter()
            link([alice, bob])
            wait_for(lambda: _in_sync(alice) and _in_sync(bob), "the first sync", 600)
            first_s = time.perf_counter() - first
            full_index = _link_bytes(bob, alice)
            bare_rss, bare_s = _bare_python()
            bob.stop()
            _call(alice, "doc.apply", share=share, doc=_guid(count // 2),
                  update=_encode(_change()))  # fmt: skip
            ready_s = _start(bob, port)
            _startup(ctx, ready_s, bare_s, count)
            _reconnect(ctx, alice, bob, (full_index, first_s), count)
            _status_replies(ctx, bob, count)
            _idle_memory(ctx, bob, bare_rss, count)
        finally:
            for device in (alice, bob):
                device.stop(signal.SIGKILL)


def _guid(i: int) -> str:
    return f"scale/n{i:05}.md"


def _seed(alice: Device, bob: Device, count: int) -> None:
    for i in range(count):
        path = log_path(alice.folder, _guid(i))
        path.parent.mkdir(parents=True, exist_ok=True)
        doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=1_000_000 + i)
        doc.get("content", type=pycrdt.Text).insert(0, f"note {i}\n" * 20)
        path.write_bytes(fmt.encode_header() + fmt.encode_updates([doc.get_update()]))
    shutil.copytree(docs_dir(alice.folder), docs_dir(bob.folder), dirs_exist_ok=True)
    for device in (alice, bob):  # the docs are an application's, not files of the folder
        (device.folder / ".p2psyncignore").write_text("scale/\n")


def _change() -> bytes:
    doc: pycrdt.Doc[pycrdt.Text] = pycrdt.Doc(client_id=4242)
    doc.get("other", type=pycrdt.Text).insert(0, "changed while bob was away")
    return doc.get_update()


def _encode(update: bytes) -> str:
    return base64.b64encode(update).decode()


def _call(device: Device, method: str, **params: Any) -> Any:
    with ControlClient(Home(device.home).socket_path) as client:
        return client.call(method, **params)


def _share(device: Device) -> dict[str, Any]:
    shares: list[dict[str, Any]] = _call(device, "status")["shares"]
    return next(s for s in shares if s["path"] == str(device.folder))


def _in_sync(device: Device) -> bool:
    share = _share(device)
    return bool(share["members"]) and all(m["state"] == "in-sync" for m in share["members"])


def _link_bytes(device: Device, other: Device) -> int:
    peers = _call(device, "peers")["peers"]
    row = next(p for p in peers if p["device_id"] == other.id)
    total: int = row["bytes_in"] + row["bytes_out"]
    return total


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for process {pid}")


def _bare_python(runs: int = 3) -> tuple[int, float]:
    """RSS and wall time to exit of a Python process that imports the daemon's
    libraries: the median of ``runs`` (one run alone is at the mercy of the machine)."""
    code = f"{IMPORTS}\nimport sys\nprint(open('/proc/self/status').read())"
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        env = {**os.environ, "PYTHONPATH": str(REPO_DIR)}
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                              check=True, env=env)  # fmt: skip
        seconds = time.perf_counter() - start
        line = next(x for x in done.stdout.splitlines() if x.startswith("VmRSS:"))
        samples.append((seconds, int(line.split()[1]) * 1024))
    seconds, rss = sorted(samples)[runs // 2]
    return rss, seconds


def _idle_memory(ctx: BenchContext, bob: Device, bare_rss: int, count: int) -> None:
    assert bob.process is not None
    wait_for(lambda: _share(bob)["docs_loaded"] <= 3, "bob's docs to be unloaded", 120)
    rss = _rss_bytes(bob.process.pid)
    ctx.report(Metric(
        GROUP, f"idle daemon resident memory, {count} docs", rss / MIB, "MiB",
        "bare Python importing the same libraries", bare_rss / MIB, None, limit=100.0,
        note="VmRSS of the daemon restarted from its index, after the reconnect, idle; "
        "the anchor is a process that only imports p2psync, pycrdt, trio, zeroconf, watchdog",
    ))  # fmt: skip


def _start(device: Device, port: int) -> float:
    """Start ``device``'s daemon; seconds from spawning it to its control API answering."""
    start = time.perf_counter()
    with (device.home / "daemon.log").open("ab") as log:
        device.process = subprocess.Popen(
            [sys.executable, "-m", "p2psync", "--home", str(device.home), "run",
             "--listen", f"127.0.0.1:{port}", "--no-mdns"],
            stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )  # fmt: skip
    deadline = start + 60
    while True:
        try:
            _call(device, "hello")
            return time.perf_counter() - start
        except (ControlError, OSError):
            if time.perf_counter() > deadline:
                raise AssertionError("the daemon did not start in 60 s") from None
            time.sleep(POLL_S)


def _startup(ctx: BenchContext, ready_s: float, bare_s: float, count: int) -> None:
    ctx.report(Metric(
        GROUP, f"start-up to ready from the index, {count} docs", ready_s * 1e3, "ms",
        "bare Python importing the same libraries", bare_s * 1e3, None,
        limit=bare_s * 1e3 + 1000.0,
        note="from spawning the daemon to its control API answering (the share is "
        "started before it listens); the limit is the anchor plus 1 s",
    ))  # fmt: skip


def _reconnect(
    ctx: BenchContext, alice: Device, bob: Device, first: tuple[int, float], count: int
) -> None:
    full_index, first_s = first
    start = time.perf_counter()
    wait_for(lambda: _idle(bob), "bob to catch up", 60)
    caught_up = time.perf_counter() - start
    wait_for(lambda: _idle(alice), "alice to confirm", 60)
    confirmed = time.perf_counter() - start
    sent = _link_bytes(bob, alice)
    ctx.report(Metric(
        GROUP, f"reconnect after 1 of {count} docs changed: bytes", sent, "bytes",
        "first sync of the same share", full_index, None, limit=16 * 1024.0,
        note="frame bytes both ways on the new link (hello, auth, index deltas, the one "
        "doc's SyncStep1/2), from the peers API counters",
    ))  # fmt: skip
    ctx.report(Metric(
        GROUP, f"reconnect after 1 of {count} docs changed: time to in-sync", caught_up * 1e3,
        "ms", "first sync of the same share", first_s * 1e3, None, limit=200.0,
        note="from the restarted daemon answering its control API (it dials the peer at "
        "start-up: TLS handshake included) to it holding every doc at the peer's version "
        f"(the idle API, polled every 2 ms); the peer confirmed after {confirmed * 1e3:.0f} ms "
        "(it learns the new version from an index delta sent INDEX_FLUSH_DELAY_S later)",
    ))  # fmt: skip


def _round_trip_ms(device: Device, method: str, runs: int = 30) -> float:
    """The median time of ``method`` on ``device``'s control socket, one client each."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        _call(device, method)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1e3


def _status_replies(ctx: BenchContext, bob: Device, count: int) -> None:
    """What the tray asks every second, of an idle daemon in sync with its peer."""
    wait_for(lambda: _idle(bob), "bob in sync", 60)
    hello = _round_trip_ms(bob, "hello")
    for method in ("status", "peers"):
        ctx.report(Metric(
            GROUP, f"`{method}` reply, {count} docs in sync, median", _round_trip_ms(bob, method),
            "ms", "`hello` reply, median", hello, None, limit=25.0,
            note="30 calls on the control socket of the idle daemon, each on a new "
            "connection, as the tray makes one status and one peers call every second; "
            "each member's in-sync check, counts and docs to send are a pass over every "
            "doc, kept until something they read changes (ShareSync._figures_of); on the "
            "10,000 files of bench_manyfiles after their first sync, status took 172 ms "
            "and peers 79 ms before (a third of a core for a tray left open), 8.2 and "
            "7.5 ms after (2026-12-07)",
        ))  # fmt: skip


def _idle(device: Device) -> bool:
    reply = _call(device, "idle")
    return bool(reply["idle"]) and reply["connected"] > 0
