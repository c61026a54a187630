"""The benchmark harness: verdicts, helpers, the rendered page, and the command line."""

from __future__ import annotations

import datetime
import importlib
import importlib.metadata
import io
import math
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from bench.__main__ import main
from bench.harness import (
    BenchContext,
    Metric,
    discover_suites,
    format_value,
    library_versions,
    measure,
    peak_rss_bytes,
    render_markdown,
    run_in_subprocess,
    timeit_best,
    timeit_median,
)

VERSIONS = {"pycrdt": "0.14.13", "trio": "0.27.0"}
DAY = datetime.date(2026, 1, 2)


def test_ratio_and_verdict_in_both_directions() -> None:
    fast = Metric("g", "append", 1.0, "s", "apply", 4.0, 0.5)
    assert (fast.ratio, fast.passed, fast.target) == (0.25, True, "≤ 0.5")
    assert Metric("g", "at the target", 3.0, "s", "apply", 2.0, 1.5).passed
    assert not Metric("g", "slow", 3.1, "s", "apply", 2.0, 1.5).passed
    rate = Metric("g", "rate", 30.0, "MB/s", "pycrdt", 50.0, 0.5, lower_is_better=False)
    assert (rate.ratio, rate.passed, rate.target) == (0.6, True, "≥ 0.5")
    assert not Metric("g", "t", 20.0, "MB/s", "p", 50.0, 0.5, lower_is_better=False).passed


@pytest.mark.parametrize(
    ("value", "anchor"), [(1.0, 0.0), (-1.0, 1.0), (math.nan, 1.0), (1.0, math.inf)]
)
def test_a_metric_without_a_meaningful_ratio_is_refused(value: float, anchor: float) -> None:
    with pytest.raises(ValueError, match="metric 'm'"):
        Metric("g", "m", value, "s", "a", anchor, 1.0)


def test_values_are_shown_in_readable_units() -> None:
    assert format_value(2.5, "s") == "2.5 s"
    assert format_value(0.07854, "s") == "78.54 ms"
    assert format_value(0.0000123, "s") == "12.3 µs"
    assert format_value(223_446, "bytes") == "223,446 bytes"
    assert format_value(0.5, "MB/s") == "0.5 MB/s"


def test_page_has_header_and_one_table_per_group_in_report_order() -> None:
    page = render_markdown(
        [
            Metric("Storage (#3)", "append", 1.0, "s", "apply", 4.0, 0.5, note="batched"),
            Metric("Sync", "latency", 0.009, "s", "rtt", 0.001, 5.0),
            Metric("Storage (#3)", "size", 1_200, "bytes", "a|b", 1_000, 1.05),
        ],
        "AMD EPYC, 2 cores",
        VERSIONS,
        date=DAY,
    )
    assert page.startswith("# Benchmarks\n")
    assert "`make bench`" in page
    assert "- Machine: AMD EPYC, 2 cores\n" in page
    assert "- Libraries: pycrdt 0.14.13, trio 0.27.0\n" in page
    assert "- Date: 2026-01-02 (each section says when and where it was measured)\n" in page
    assert page.index("## Storage (#3)") < page.index("## Sync")
    assert "| append | 1 s | apply | 4 s | 0.25 | ≤ 0.5 | ✅ |" in page
    assert "| size | 1200 bytes | a\\|b | 1000 bytes | 1.2 | ≤ 1.05 | ❌ |" in page
    assert "| latency | 9 ms | rtt | 1 ms | 9 | ≤ 5 | ❌ |" in page
    assert "- append: batched" in page
    assert "Quick run" not in page
    assert "failed" not in page


def test_an_only_run_replaces_its_sections_and_keeps_the_others() -> None:
    old = render_markdown(
        [Metric("Storage", "append", 1.0, "s", "apply", 4.0, 0.5),
         Metric("Sync", "latency", 0.009, "s", "rtt", 0.001, 5.0)],
        "m", VERSIONS, date=DAY, errors={"bench_x": "OSError: no"},
    )  # fmt: skip
    later = datetime.date(2026, 3, 4)
    page = render_markdown([Metric("Storage", "append", 2.0, "s", "apply", 4.0, 0.5),
                            Metric("New", "size", 3.0, "bytes", "a", 1.0, 5.0)],
                           "m", VERSIONS, date=later, previous=old)  # fmt: skip
    assert page.index("## Storage") < page.index("## Sync") < page.index("## New")
    assert "| append | 2 s |" in page
    assert "| append | 1 s |" not in page
    assert "| latency | 9 ms |" in page  # kept
    assert "## Storage\n\nMeasured 2026-03-04 on m.\n" in page
    assert "## Sync\n\nMeasured 2026-01-02 on m.\n" in page
    assert "Suites that failed" not in page  # the old run's failures are not this one's


def test_a_page_from_before_dated_sections_gets_its_date_on_each_kept_section() -> None:
    old = "# Benchmarks\n\n- Machine: old\n- Date: 2025-12-31\n\n## Sync\n\n| metric |\n"
    page = render_markdown([], "m", VERSIONS, date=DAY, previous=old)
    assert "## Sync\n\nMeasured 2025-12-31 on old.\n\n| metric |\n" in page


def test_page_flags_a_quick_run_and_failed_suites() -> None:
    page = render_markdown([], "m", {}, date=DAY, quick=True, errors={"bench_x": "OSError: no"})
    assert "**Quick run**" in page
    assert "## Suites that failed\n\n- `bench_x`: OSError: no\n" in page


def test_report_records_and_prints_each_metric() -> None:
    ctx = BenchContext(out=io.StringIO())
    metric = ctx.report(Metric("g", "load", 0.002, "s", "apply", 1.0, 0.1))
    assert ctx.results == [metric]
    assert isinstance(ctx.out, io.StringIO)
    assert ctx.out.getvalue() == "  load: 2 ms vs apply 1 s: ratio 0.002 (target ≤ 0.1) ok\n"


def test_timing_helpers_time_every_call() -> None:
    calls: list[int] = []
    timing = measure(lambda: calls.append(1), repeat=5)
    assert len(calls) == len(timing.samples) == 5
    assert 0 <= timing.best <= timing.median
    assert timeit_best(lambda: None, 3) >= 0
    assert timeit_median(lambda: None, 0) >= 0  # at least one call


def test_peak_rss_covers_what_was_allocated() -> None:
    block = b"\1" * (32 << 20)
    assert peak_rss_bytes() >= len(block)


def test_a_function_measured_in_a_fresh_process() -> None:
    run = run_in_subprocess("math:factorial", 5)
    assert run.result == 120
    assert 0 < run.baseline_rss_bytes <= run.peak_rss_bytes
    assert run.seconds >= 0
    with pytest.raises(RuntimeError, match="math:nope"):
        run_in_subprocess("math:nope")


def test_versions_of_the_named_libraries() -> None:
    assert library_versions(["pycrdt", "no-such-library"]) == {
        "pycrdt": importlib.metadata.version("pycrdt"),
        "no-such-library": "not installed",
    }


SUITES = {
    "bench_a.py": """
        from bench.harness import Metric
        def run(ctx):
            ctx.report(Metric("A", "fast", 1.0, "s", "anchor", 2.0, 1.0, note=f"quick={ctx.quick}"))
    """,
    "bench_b.py": """
        from bench.harness import Metric
        def run(ctx):
            ctx.report(Metric("B", "slow", 3.0, "s", "anchor", 2.0, 1.0))
    """,
    "bench_c.py": """
        def run(ctx):
            raise OSError("disk on fire")
    """,
    "helper.py": "raise AssertionError('not a suite: never imported')\n",
}


@pytest.fixture
def suites(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    """A package ``fakebench`` holding suites that pass, miss, and crash."""
    package = tmp_path / "fakebench"
    package.mkdir()
    (package / "__init__.py").write_text("")
    for name, source in SUITES.items():
        (package / name).write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield importlib.import_module("fakebench")
    for name in [m for m in sys.modules if m == "fakebench" or m.startswith("fakebench.")]:
        del sys.modules[name]


def test_suites_are_the_bench_modules_in_name_order(suites: ModuleType) -> None:
    assert discover_suites(suites) == ["bench_a", "bench_b", "bench_c"]


def test_a_full_run_writes_the_page_and_fails_on_a_miss_or_a_crash(
    suites: ModuleType, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    page = tmp_path / "docs" / "benchmarks.md"
    assert main(["--page", str(page)], package=suites) == 1
    text = page.read_text()
    assert "| fast | 1 s | anchor | 2 s | 0.5 | ≤ 1 | ✅ |" in text
    assert "| slow | 3 s | anchor | 2 s | 1.5 | ≤ 1 | ❌ |" in text
    assert "- `bench_c`: OSError: disk on fire" in text
    out, err = capsys.readouterr()
    assert "  fast: 1 s vs anchor 2 s: ratio 0.5 (target ≤ 1) ok" in out
    assert "missed target: B / slow" in err
    assert "suite failed: bench_c: OSError: disk on fire" in err


def test_quick_and_partial_runs_leave_the_page_alone_unless_asked(
    suites: ModuleType, tmp_path: Path
) -> None:
    page = tmp_path / "benchmarks.md"
    assert main(["--quick", "--page", str(page)], package=suites) == 1
    assert main(["--only", "a", "--page", str(page)], package=suites) == 0
    assert not page.exists()
    assert (
        main(["--only", "bench_a", "--quick", "--write", "--page", str(page)], package=suites) == 0
    )
    text = page.read_text()
    assert "quick=True" in text
    assert "**Quick run**" in text
    assert "## B" not in text


def test_an_unknown_suite_is_a_usage_error(suites: ModuleType) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--only", "nope"], package=suites)
    assert exc.value.code == 2


def test_a_metric_with_only_an_absolute_limit_is_judged_by_it() -> None:
    fast = Metric("Sync", "p50", 2.4, "ms", "rtt + fsync", 0.2, None, limit=5.0)
    slow = Metric("Sync", "p50", 6.0, "ms", "rtt + fsync", 0.2, None, limit=5.0)
    assert fast.passed
    assert not slow.passed
    assert fast.target == "≤ 5 ms"
