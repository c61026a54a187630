"""First scan of many small files (issue 19): a folder added as a share, p2psync against
Syncthing, several runs alternating the two systems.

The workload and both systems' set-up are ``bench_manyfiles``'s (the issue's 10,000
files in 350 folders; 1,000 with ``--quick``); this suite measures only the first
scan, ``P2PSYNC_BENCH_SCAN_RUNS`` times (3 by default, 1 with ``--quick``), each run
a fresh daemon or instance on a fresh copy of the folder, the two systems one after
the other. The page shows the median of each system and the per-run ratios: on a
loaded machine absolute times drift, a ratio within a run much less.

With ``P2PSYNC_BENCH_BASELINE`` naming another tree (main before a change, exported
with ``git archive``: not a working copy someone edits meanwhile), each
round also times that checkout's daemon first, on the same folder, and the page has
one more row: this tree's first scan against the baseline's, same rounds.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import statistics
from collections.abc import Iterator
from pathlib import Path

from bench.bench_manyfiles import (
    FILES,
    QUICK_FILES,
    Daemon,
    Figures,
    Row,
    Syncthing,
    System,
    _cpu_s,
    alternate,
    first_scan,
    report_rows,
)
from bench.harness import BenchContext, Metric

GROUP = "First scan of many small files: p2psync against Syncthing (issue 19)"
RUNS = int(os.environ.get("P2PSYNC_BENCH_SCAN_RUNS", "3"))
BASELINE = os.environ.get("P2PSYNC_BENCH_BASELINE", "")
"""A checkout whose daemon is timed too, in each round: before and after in one run."""
PROFILE = (
    "Where p2psync's first scan spends its time (py-spy --idle --threads on the daemon, "
    "10,000 files, 2026-12-06). Main at 89165a0 (42.6 s, 28.4 CPU-s, load average "
    "about 1): the event loop busy 66 % of the samples; per new file, its doc, writer "
    "and history objects (9.5 % of all samples), the unloader dropping the same docs "
    "2 s later (8.4 %, a stat of each log on the event loop 6.8 %), each log closed "
    "on the event loop as its writer task ended (6 %), the log watcher handling the "
    "daemon's own new logs (5.7 %), the bench's status polls every 100 ms (11 %). "
    "This change: a new doc leaves memory as soon as its group is stored (its log "
    "stat-ed in the commit's thread hop, closed in one more hop per group, its writer "
    "never started), the log watcher's events for logs being created are looked at "
    "once the group is stored, and a batch of watcher events finds its share by one "
    "lookup. After it (under load 20): no unloader, writer task or close left in the "
    "profile's per-file work; what is left is spread thin: trio's scheduling 10 % of "
    "the busy samples, the status polls about 15 %, making each doc (DocReplica, the "
    "Yjs edit, its writer and history objects) about 15 %, random client IDs 4 %, the "
    "mirror's manifest entries and records the rest"
)
"""Where the first scan spends its time, from a profile (docs/benchmarks.md)."""


def run(ctx: BenchContext) -> None:
    count = QUICK_FILES if ctx.quick else FILES
    runs = 1 if ctx.quick else max(1, RUNS)
    load = os.getloadavg()[0]
    baseline: list[Figures] = []
    ours_runs = _with_baseline(ctx, baseline) if BASELINE else _p2psync
    ours, theirs = alternate(ctx, count, runs, ours_runs, _syncthing)
    context = (
        f"median of {runs} runs alternating the two systems, load average {load:.1f} "
        f"at the start on {os.cpu_count()} cores"
    )
    rows: list[Row] = [
        ("scan_s", "first scan (share add until scanned)", "s",
         "p2psync (logging at its default level, info): from the share.add request "
         "(control socket) to its status listing "
         "every file (polled every 100 ms: up to that much late; a file is listed once "
         "its doc and its manifest entry are durable); Syncthing: from the POST of the "
         "folder (REST API) to the time of its first StateChanged event from scanning "
         f"to idle, every file then in its index; {context}. {PROFILE}"),
        ("cpu_s", "CPU seconds of the daemon during the first scan", "CPU-s",
         "utime + stime from /proc of the one daemon or instance, over the same interval"),
    ]  # fmt: skip
    report_rows(ctx, GROUP, count, rows, ours, theirs)
    if baseline:
        _report_baseline(ctx, count, ours, baseline)


def _with_baseline(ctx: BenchContext, baseline: list[Figures]) -> System:
    """``_p2psync`` with one run of the ``BASELINE`` checkout's daemon on the same
    folder in each round (its figures go to ``baseline``, and are printed), before this
    tree's in odd rounds and after it in even ones: the second of two scans in a row
    was about 12 % slower, same code on both sides (the first's writes still going to
    the disk), and a fixed order made that look like a change."""

    def both(root: Path, source: Path, count: int) -> Figures:
        def theirs() -> None:
            baseline.append(_p2psync(root.with_name(root.name + "-baseline"), source,
                                     count, code=BASELINE))  # fmt: skip
            print(f"  baseline: scan_s {baseline[-1]['scan_s']:.3g}, "
                  f"cpu_s {baseline[-1]['cpu_s']:.3g}", file=ctx.out, flush=True)  # fmt: skip

        first = len(baseline) % 2 == 0
        if first:
            theirs()
        ours = _p2psync(root, source, count)
        if not first:
            theirs()
        return ours

    return both


def _report_baseline(
    ctx: BenchContext, count: int, ours: list[Figures], baseline: list[Figures]
) -> None:
    """This tree's first scan and CPU against the baseline checkout's, same rounds."""
    for key, name, unit in (("scan_s", "first scan", "s"), ("cpu_s", "CPU seconds", "CPU-s")):
        mine = statistics.median(run[key] for run in ours)
        before = statistics.median(run[key] for run in baseline)
        ratios = sorted(o[key] / b[key] for o, b in zip(ours, baseline, strict=True))
        ctx.report(Metric(
            GROUP, f"{name} of this tree against the baseline checkout, {count} files",
            mine, unit, "baseline checkout, same rounds", before, 1.0,
            note=f"P2PSYNC_BENCH_BASELINE={BASELINE}, run before this tree in odd rounds "
                 f"and after it in even ones (per-round ratios {ratios[0]:.3g} to "
                 f"{ratios[-1]:.3g})",
        ))  # fmt: skip


def _p2psync(root: Path, source: Path, count: int, code: str = "") -> Figures:
    """One first scan by a fresh daemon (the code of checkout ``code`` if given):
    seconds, and the daemon's CPU seconds."""
    root.mkdir()
    device = Daemon(root, "alice")
    shutil.copytree(source, device.folder)
    os.sync()  # the copy's writeback is not the scan's
    try:
        with _code_of(code):
            device.start()
        assert device.process is not None
        cpu = _cpu_s(device.process.pid)
        _, took = first_scan(device, count)
        return {"scan_s": took, "cpu_s": _cpu_s(device.process.pid) - cpu}
    finally:
        device.stop(signal.SIGKILL)
        shutil.rmtree(root, ignore_errors=True)


@contextlib.contextmanager
def _code_of(checkout: str) -> Iterator[None]:
    """Daemons started meanwhile run the code of ``checkout`` (if empty, this tree's).
    ``python -m`` puts its working directory first on the path: they start there."""
    if not checkout:
        yield
        return
    path, cwd = os.environ.get("PYTHONPATH"), Path.cwd()
    os.environ["PYTHONPATH"] = checkout
    os.chdir(checkout)
    try:
        yield
    finally:
        os.chdir(cwd)
        if path is None:
            del os.environ["PYTHONPATH"]
        else:
            os.environ["PYTHONPATH"] = path


def _syncthing(root: Path, source: Path, count: int) -> Figures:
    """One first scan by a fresh Syncthing instance: seconds, and its CPU seconds."""
    node = Syncthing(root / "alpha", root / "alpha-share")
    shutil.copytree(source, node.folder)
    os.sync()
    try:
        node.start()
        assert node.process is not None
        cpu = _cpu_s(node.process.pid)
        took = node.first_scan(count)
        return {"scan_s": took, "cpu_s": _cpu_s(node.process.pid) - cpu}
    finally:
        node.stop()
        shutil.rmtree(root, ignore_errors=True)
