"""The benchmark harness: metrics judged against anchors, timing and memory helpers,
suite discovery, and the markdown page of results.

Nothing here knows any particular suite; see the package docstring for how to write one.
"""

from __future__ import annotations

import datetime
import importlib
import importlib.metadata
import json
import math
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

REPO_DIR = Path(__file__).resolve().parents[1]
LIBRARIES = ("pycrdt", "trio", "msgpack", "zeroconf", "watchdog", "cryptography", "crc32c")
"""Libraries whose versions the page records."""
SUITE_PREFIX = "bench_"


@dataclass(frozen=True)
class Metric:
    """One measured figure, judged by its ratio to an anchor measured in the same run.

    ``ratio = value / anchor_value``; with ``lower_is_better`` the metric passes when
    ``ratio <= target_ratio``, otherwise when ``ratio >= target_ratio``. ``value`` and
    ``anchor_value`` share ``unit``. Raises ValueError if the anchor is not positive
    (a ratio against zero means nothing) or a figure is negative or not finite.
    """

    group: str
    """The issue or area the metric belongs to; one table per group on the page."""
    name: str
    value: float
    unit: str
    anchor_name: str
    anchor_value: float
    target_ratio: float | None
    """None when the issue sets only an absolute ``limit``: the ratio is then context."""
    lower_is_better: bool = True
    note: str = ""
    """How it was measured, in a sentence; printed under the group's table."""
    limit: float | None = None
    """An absolute bound in ``unit`` the value must also stay within, for the few
    targets an issue states in absolute terms (latency in ms); None for none."""

    def __post_init__(self) -> None:
        figures = (self.value, self.anchor_value, self.target_ratio or 0.0)
        if not all(math.isfinite(x) and x >= 0 for x in figures):
            raise ValueError(f"metric {self.name!r}: figures must be finite and >= 0: {figures}")
        if self.anchor_value == 0:
            raise ValueError(f"metric {self.name!r}: anchor {self.anchor_name!r} is zero")

    @property
    def ratio(self) -> float:
        """``value / anchor_value``."""
        return self.value / self.anchor_value

    @property
    def passed(self) -> bool:
        """Whether the ratio (and the absolute limit, if any) meets the target."""
        if self.limit is not None and self.value > self.limit:
            return False
        if self.target_ratio is None:
            return self.limit is not None
        if self.lower_is_better:
            return self.ratio <= self.target_ratio
        return self.ratio >= self.target_ratio

    @property
    def target(self) -> str:
        """The target as shown: ``≤ 0.1`` or ``≥ 2``, plus any absolute limit."""
        parts = []
        if self.target_ratio is not None:
            parts.append(f"{'≤' if self.lower_is_better else '≥'} {self.target_ratio:g}")
        if self.limit is not None:
            parts.append(f"≤ {format_value(self.limit, self.unit)}")
        return " and ".join(parts)

    def line(self) -> str:
        """One console line: figures, ratio, target and verdict."""
        verdict = "ok" if self.passed else "MISSED"
        return (
            f"{self.name}: {format_value(self.value, self.unit)} vs {self.anchor_name} "
            f"{format_value(self.anchor_value, self.unit)}: ratio {format_ratio(self.ratio)} "
            f"(target {self.target}) {verdict}"
        )


@dataclass
class BenchContext:
    """What a suite's ``run(ctx)`` gets: the run's options and where to report.

    ``quick`` asks for small inputs (a smoke run whose figures mean little).
    ``report`` records a metric and prints it at once to ``out``.
    """

    quick: bool = False
    out: TextIO = field(default_factory=lambda: sys.stdout)
    results: list[Metric] = field(default_factory=list)

    def report(self, metric: Metric) -> Metric:
        """Record ``metric``, print its line, and return it."""
        self.results.append(metric)
        print(f"  {metric.line()}", file=self.out, flush=True)
        return metric


# Timing


@dataclass(frozen=True)
class Timing:
    """Seconds taken by repeated calls: every sample, the best and the median."""

    samples: tuple[float, ...]

    @property
    def best(self) -> float:
        """The fastest call: the one least disturbed by other load on the machine."""
        return min(self.samples)

    @property
    def median(self) -> float:
        """The median call, for work whose variance is part of the story."""
        return statistics.median(self.samples)


def timed(fn: Callable[[], object]) -> float:
    """Seconds (``time.perf_counter``) that one call of ``fn`` takes."""
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(fn: Callable[[], object], repeat: int) -> Timing:
    """Call ``fn`` ``repeat`` times (at least once), timing each call."""
    return Timing(tuple(timed(fn) for _ in range(max(1, repeat))))


def timeit_best(fn: Callable[[], object], repeat: int) -> float:
    """Seconds of the fastest of ``repeat`` calls of ``fn``."""
    return measure(fn, repeat).best


def timeit_median(fn: Callable[[], object], repeat: int) -> float:
    """Seconds of the median of ``repeat`` calls of ``fn``."""
    return measure(fn, repeat).median


# Memory


def peak_rss_bytes() -> int:
    """This process's peak resident set size so far, in bytes.

    Reads ``VmHWM`` from /proc/self/status; elsewhere falls back to ``getrusage``.
    The peak only grows: to measure one step in isolation, run it in a fresh process
    (``run_in_subprocess``).
    """
    try:
        with Path("/proc/self/status").open() as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak if sys.platform == "darwin" else peak * 1024


@dataclass(frozen=True)
class SubprocessRun:
    """What ``run_in_subprocess`` measured in the child process."""

    seconds: float
    """Wall time of the call alone, without interpreter start and imports."""
    peak_rss_bytes: int
    """The child's peak RSS after the call (includes the interpreter and imports)."""
    baseline_rss_bytes: int
    """The child's peak RSS just before the call: subtract it to get the call's share."""
    result: Any
    """The function's return value, which must be JSON-serialisable."""


_CHILD = """
import importlib, json, sys, time
from bench.harness import peak_rss_bytes
module, function, args, out = sys.argv[1], sys.argv[2], json.loads(sys.argv[3]), sys.argv[4]
fn = getattr(importlib.import_module(module), function)
baseline = peak_rss_bytes()
start = time.perf_counter()
result = fn(*args)
seconds = time.perf_counter() - start
with open(out, "w") as f:
    json.dump({"seconds": seconds, "peak": peak_rss_bytes(), "baseline": baseline,
               "result": result}, f)
"""


def run_in_subprocess(target: str, *args: Any, timeout_s: float = 1800) -> SubprocessRun:
    """Call ``target`` (``"package.module:function"``) with JSON ``args`` in a fresh Python.

    For figures a long-lived process would blur: peak memory, or cold-start time. The
    child runs with this interpreter, from the repository root, and its stdout and
    stderr pass through. Raises RuntimeError if the child fails, and
    subprocess.TimeoutExpired (after killing it) past ``timeout_s``.
    """
    module, _, function = target.partition(":")
    if not module or not function:
        raise ValueError(f"target must be 'module:function', not {target!r}")
    with tempfile.TemporaryDirectory(prefix="p2psync-bench-") as tmp:
        out = Path(tmp) / "result.json"
        paths = [str(REPO_DIR), *filter(None, [os.environ.get("PYTHONPATH")])]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(paths)}
        command = [sys.executable, "-c", _CHILD, module, function, json.dumps(args), str(out)]
        done = subprocess.run(command, cwd=REPO_DIR, env=env, timeout=timeout_s, check=False)
        if done.returncode != 0 or not out.exists():
            raise RuntimeError(f"{target} failed in a subprocess (exit {done.returncode})")
        raw = json.loads(out.read_text())
    return SubprocessRun(raw["seconds"], raw["peak"], raw["baseline"], raw["result"])


# Suites


def discover_suites(package: ModuleType) -> list[str]:
    """Names of the suite modules of ``package`` (``bench_*.py``), in run order (sorted)."""
    directories = [Path(p) for p in getattr(package, "__path__", [])]
    names = {
        path.stem
        for directory in directories
        for path in directory.glob(f"{SUITE_PREFIX}*.py")
        if path.stem.isidentifier()
    }
    return sorted(names)


def run_suites(package: ModuleType, names: Iterable[str], ctx: BenchContext) -> dict[str, str]:
    """Import and run each named suite of ``package`` in order, reporting into ``ctx``.

    A suite that raises does not stop the others: its traceback is printed to stderr
    and the returned mapping gives its name and the error in one line. Keyboard
    interrupts propagate.
    """
    errors: dict[str, str] = {}
    for name in names:
        print(f"{name}:", file=ctx.out, flush=True)
        start = time.perf_counter()
        try:
            suite = importlib.import_module(f"{package.__name__}.{name}")
            suite.run(ctx)
        except Exception as exc:
            traceback.print_exc()
            errors[name] = f"{type(exc).__name__}: {exc}"
            print(f"  FAILED: {errors[name]}", file=ctx.out, flush=True)
        print(f"  ({time.perf_counter() - start:.1f} s)", file=ctx.out, flush=True)
    return errors


# The page


def describe_machine() -> str:
    """One line: CPU model, cores, RAM, kernel and Python version."""
    cpu = platform.processor() or platform.machine() or "unknown CPU"
    try:
        with Path("/proc/cpuinfo").open() as f:
            models = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = models[0] if models else cpu
    except OSError:
        pass
    try:
        memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
        ram = f"{memory / 2**30:.1f} GiB RAM"
    except (ValueError, OSError):
        ram = "unknown RAM"
    return (
        f"{cpu}, {os.cpu_count()} cores, {ram}, {platform.system()} {platform.release()}, "
        f"{platform.python_implementation()} {platform.python_version()}"
    )


def library_versions(names: Iterable[str] = LIBRARIES) -> dict[str, str]:
    """Installed version of each library, or ``"not installed"``."""
    found: dict[str, str] = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def render_markdown(
    results: Iterable[Metric],
    machine_line: str,
    versions: Mapping[str, str],
    *,
    date: datetime.date | None = None,
    quick: bool = False,
    errors: Mapping[str, str] | None = None,
    previous: str | None = None,
) -> str:
    """The docs/benchmarks.md page: header, then one table (and notes) per group, each
    saying the day it was measured.

    Groups appear in the order their first metric was reported. ``errors`` lists
    suites that failed, so a page never silently lacks their figures. With
    ``previous`` (the page as it was; an ``--only`` run), the groups measured now
    replace theirs in place and the others are kept as they were.
    """
    date = date or datetime.datetime.now(datetime.UTC).date()
    lines = [
        "# Benchmarks",
        "",
        "Generated by `make bench` (`python -m bench`); do not edit by hand. Regenerate it",
        "on a quiet machine and commit it with the change that moved the figures.",
        "",
        "Every figure is judged as a ratio to an *anchor* measured in the same run, on the",
        "same machine: `ratio = value / anchor value`, and the target says which way is",
        "good. Absolute times drift from run to run on shared machines; ratios much less.",
        "",
        f"- Machine: {machine_line}",
        f"- Libraries: {', '.join(f'{k} {v}' for k, v in versions.items())}",
        f"- Date: {date.isoformat()} (each section says when and where it was measured)",
    ]
    if quick:
        lines.append("- **Quick run** (`--quick`): small inputs, figures are not representative")
    if errors:
        lines += ["", "## Suites that failed", ""]
        lines += [f"- `{name}`: {_cell(error)}" for name, error in errors.items()]
    groups: dict[str, list[Metric]] = {}
    for metric in results:
        groups.setdefault(metric.group, []).append(metric)
    measured = f"Measured {date.isoformat()} on {machine_line}."
    sections = {group: _section(group, metrics, measured) for group, metrics in groups.items()}
    if previous is not None:
        kept = _sections_of(previous)
        sections = {**{g: sections.pop(g, old) for g, old in kept.items()}, **sections}
    for section in sections.values():
        lines += ["", *section]
    return "\n".join(lines) + "\n"


def _section(group: str, metrics: list[Metric], measured: str) -> list[str]:
    lines = [
        f"## {group}",
        "",
        measured,
        "",
        "| metric | value | anchor | anchor value | ratio | target | verdict |",
        "|---|---:|---|---:|---:|---:|:---:|",
    ]
    lines += [
        f"| {_cell(m.name)} | {format_value(m.value, m.unit)} | {_cell(m.anchor_name)} | "
        f"{format_value(m.anchor_value, m.unit)} | {format_ratio(m.ratio)} | {m.target} | "
        f"{'✅' if m.passed else '❌'} |"
        for m in metrics
    ]
    notes = [f"- {m.name}: {m.note}" for m in metrics if m.note]
    if notes:
        lines += ["", *notes]
    return lines


def _sections_of(page: str) -> dict[str, list[str]]:
    """The group sections of a page, by title, in order (their trailing blank lines
    dropped); the list of failed suites is not kept: it is the new run's to say."""
    sections: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in page.splitlines():
        if line.startswith("## "):
            current = sections.setdefault(line[3:], [])
        if current is not None:
            current.append(line)
    sections.pop("Suites that failed", None)
    date = re.search(r"^- Date: (\S+)", page, re.MULTILINE)
    machine = re.search(r"^- Machine: (.+)$", page, re.MULTILINE)
    for lines in sections.values():
        while lines and not lines[-1].strip():
            lines.pop()
        if date and machine and not any(line.startswith("Measured ") for line in lines[:3]):
            # a page from before the sections said when they were measured
            lines[1:1] = ["", f"Measured {date[1]} on {machine[1]}."]
    return sections


def format_value(value: float, unit: str) -> str:
    """``value`` with its unit, readable: seconds scaled to ms or µs, big counts grouped."""
    if unit == "s" and value < 1:
        value, unit = (value * 1e3, "ms") if value >= 1e-3 else (value * 1e6, "µs")
    if value >= 10_000:
        return f"{value:,.0f} {unit}"
    return f"{value:.4g} {unit}"


def format_ratio(ratio: float) -> str:
    """A ratio to three significant digits (``0.0123``, ``1.05``, ``250``)."""
    return f"{ratio:.3g}" if ratio < 1000 else f"{ratio:,.0f}"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
