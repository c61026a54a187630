"""LAN discovery on the network-namespace testbed: daemon start → peer connected.

Two hosts on a bridge (tests/support/testbed.py, root required). Alpha runs throughout;
Beta's daemon is started again and again, and each run times the moment the process
is spawned until Beta's control API lists Alpha as connected, then stops Beta and
waits until Alpha has seen it go and forgotten its announcement. The anchor is the
same start with a static peer address for Alpha and ``--no-mdns``, in runs
interleaved with the mDNS ones. Both include the start-up of the daemon's Python
process; a third figure leaves it out (from the daemon's first log line).
"""

from __future__ import annotations

import datetime
import os
import statistics
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from bench.harness import BenchContext, Metric
from p2psync.config import PeerConfig, load_config, save_config
from p2psync.control.home import Home
from p2psync.ids import DeviceId
from tests.support.daemons import wait_for
from tests.support.testbed import PORT, NetnsDevice, Testbed, share_among

GROUP = "LAN discovery on the netns testbed (#9)"
RUNS = 10
POLL_S = 0.01
TARGET_P50_S = 2.0


def run(ctx: BenchContext) -> None:
    runs = 3 if ctx.quick else RUNS
    load = os.getloadavg()[0]
    static: list[Timing] = []
    found: list[Timing] = []
    with tempfile.TemporaryDirectory() as tmp, Testbed() as testbed:
        alpha = testbed.device(Path(tmp), "alpha")
        beta = testbed.device(Path(tmp), "beta")
        share_among([alpha, beta])
        alpha.start()
        for _ in range(runs):  # interleaved, so that load on the machine hits both alike
            _set_static_peer(beta, alpha)
            static.append(_start_to_connected(beta, alpha, mdns=False))
            _set_static_peer(beta, None)
            found.append(_start_to_connected(beta, alpha, mdns=True))
    note = (
        f"{runs} runs each, interleaved: spawn of Beta's daemon until its control API lists "
        "Alpha as connected (the daemon's Python start-up included); anchor: the same "
        f"with a static address for Alpha and --no-mdns; load average {load:.1f} at the "
        f"start on {os.cpu_count()} cores"
    )
    report = ctx.report
    report(Metric(GROUP, "start → connected over mDNS, p50", _p50(found, 0), "s",
                  "static address, p50", _p50(static, 0), target_ratio=1.5, note=note,
                  limit=TARGET_P50_S))  # fmt: skip
    report(Metric(GROUP, "start → connected over mDNS, max", max(t[0] for t in found), "s",
                  "static address, max", max(t[0] for t in static), target_ratio=None,
                  limit=2 * TARGET_P50_S))  # fmt: skip
    report(Metric(GROUP, "daemon's first log line → connected over mDNS, p50", _p50(found, 1),
                  "s", "static address, p50", _p50(static, 1), target_ratio=None, limit=1.0,
                  note="the same runs, from the daemon's log: imports left out"))  # fmt: skip


Timing = tuple[float, float]
"""Seconds from spawn, and from the daemon's first log line, to connected."""


def _p50(timings: list[Timing], index: int) -> float:
    return statistics.median(t[index] for t in timings)


def _start_to_connected(beta: NetnsDevice, alpha: NetnsDevice, *, mdns: bool) -> Timing:
    log_start = len(beta.log_text())
    started = time.monotonic()
    beta.launch(PORT, mdns=mdns)
    deadline = started + 30.0
    while alpha.id not in beta.connected():
        if time.monotonic() > deadline:
            raise AssertionError(f"beta did not connect (mdns={mdns}): {beta.log_tail()}")
        time.sleep(POLL_S)
    elapsed = time.monotonic() - started
    lines = beta.log_text()[log_start:].splitlines()
    beta.kill()
    wait_for(lambda: beta.id not in alpha.connected(), "alpha to see beta go")
    wait_for(lambda: not _announced(alpha, beta), "alpha to forget beta's announcement")
    first = _log_time(lines[0])
    connected = next(
        _log_time(x) for x in lines if f"peer {alpha.id[:7]}" in x and "connected" in x
    )
    return elapsed, connected - first


def _announced(alpha: NetnsDevice, beta: NetnsDevice) -> bool:
    peers = alpha.call("peers")
    return any(row["device_id"] == beta.id for row in peers["discovered"])


def _log_time(line: str) -> float:
    """The timestamp that starts a daemon log line (``2026-12-01 08:12:44,495 ...``)."""
    stamp = datetime.datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f")
    return stamp.timestamp()


def _set_static_peer(device: NetnsDevice, peer: NetnsDevice | None) -> None:
    """Give ``device`` a static address for ``peer``, or no static peer at all."""
    path = Home.resolve(device.home).config_path
    config = replace(load_config(path), peers=())
    if peer is not None:
        config = config.with_peer(PeerConfig(DeviceId.parse(peer.id), (f"{peer.host.ip}:{PORT}",)))
    save_config(path, config)
