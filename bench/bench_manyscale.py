"""Many small files, scaled (issue 19): the ``bench_manyfiles`` workload at 10,000 and at
100,000 files, p2psync and Syncthing one after the other at each size, in one run, so
that how each system's time and memory grow with the folder is visible.

The 100,000-file figures are judged against Syncthing's at that size, as
``bench_manyfiles`` judges the 10,000-file ones; each system's growth from 10,000 to
100,000 files is judged against linear growth (ten times the files: at most ten times
the time or memory). One run of each (``--quick``: 500 and 5,000 files). The larger
size takes p2psync about a quarter of an hour on a loaded two-core machine.
"""

from __future__ import annotations

import os

from bench.bench_manyfiles import Figures, Row, _p2psync, _syncthing, alternate, report_rows
from bench.harness import BenchContext, Metric

GROUP = (
    "Many small files at 100,000: p2psync against Syncthing, and the growth from 10,000 (issue 19)"
)
SIZES = (10_000, 100_000)
QUICK_SIZES = (500, 5_000)
ROWS: list[Row] = [
    ("scan_s", "first scan (share add until scanned)", "s",
     "as in the 10,000-file table: from the request that adds the folder until every "
     "file is listed (p2psync) or the first scan's StateChanged event (Syncthing)"),
    ("sync_s", "first sync to an empty peer", "s",
     "from the requests that link the peers until the destination tree is "
     "byte-identical"),
    ("sync_cpu_s", "CPU seconds, both daemons, during the first sync", "CPU-s",
     "utime + stime from /proc of both processes"),
    ("idle_rss_mib", "idle RSS of the receiver after the first sync", "MiB",
     "VmRSS 5 s after both sides are idle"),
    ("unloaded_rss_mib", "idle RSS of the receiver after the first sync, docs unloaded",
     "MiB", "p2psync: VmRSS once no doc is loaded, the manifest included; Syncthing: "
     "as the row above"),
    ("restart_s", "restart to connected and idle", "s",
     "the receiver restarted, from its spawn until connected and in sync, its first "
     "look at the folder done"),
    ("restart_unloaded_rss_mib", "idle RSS after a restart, docs unloaded", "MiB",
     "p2psync: VmRSS once no doc is loaded after the restart; Syncthing: its VmRSS when "
     "idle after the restart"),
]  # fmt: skip
LINEAR = 10.0
"""Ten times the files at most ten times the time or memory: growth no worse than linear."""


def run(ctx: BenchContext) -> None:
    small, large = QUICK_SIZES if ctx.quick else SIZES
    load = os.getloadavg()[0]
    measured = {count: alternate(ctx, count, 1, _p2psync, _syncthing) for count in (small, large)}
    ours, theirs = measured[large]
    rows = [(*row[:3], f"{row[3]}; one run of each, load average {load:.1f} at the start "
             f"on {os.cpu_count()} cores") for row in ROWS]  # fmt: skip
    report_rows(ctx, GROUP, large, rows, ours, theirs)
    for system, index in (("p2psync", 0), ("Syncthing", 1)):
        for key, name, unit, _ in ROWS:
            _growth(ctx, system, name, unit, measured[small][index][0], measured[large][index][0],
                    key, (small, large))  # fmt: skip


def _growth(
    ctx: BenchContext,
    system: str,
    name: str,
    unit: str,
    at_small: Figures,
    at_large: Figures,
    key: str,
    sizes: tuple[int, int],
) -> None:
    """``system``'s figure ``key`` at the larger size against the smaller, same run."""
    small, large = sizes
    ctx.report(Metric(
        GROUP, f"{system}: {name}, {large} files against {small}", at_large[key], unit,
        f"{system}, {small} files, same run", at_small[key], LINEAR,
        note=f"ten times the files: a ratio of {LINEAR:g} is linear growth; memory "
        "includes what a process holds with no file at all, so it grows less",
    ))  # fmt: skip
