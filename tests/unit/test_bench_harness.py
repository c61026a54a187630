"""The benchmark harness: verdicts and the rendered page."""

from __future__ import annotations

from bench.harness import Metric, render_markdown


def test_ratio_and_verdict_in_both_directions() -> None:
    fast = Metric("g", "append", 1.0, "s", "apply", 4.0, 0.5)
    slow = Metric("g", "replay", 3.0, "s", "apply", 2.0, 1.5)
    rate = Metric("g", "throughput", 30.0, "MB/s", "pycrdt", 50.0, 0.5, lower_is_better=False)
    assert (fast.ratio, fast.passed) == (0.25, True)
    assert (slow.ratio, slow.passed) == (1.5, True)
    assert not Metric("g", "x", 3.1, "s", "a", 2.0, 1.5).passed
    assert rate.passed
    assert not Metric("g", "t", 20.0, "MB/s", "p", 50.0, 0.5, lower_is_better=False).passed


def test_page_has_machine_versions_and_one_row_per_metric() -> None:
    page = render_markdown([
        Metric("Storage", "append", 1.0, "s", "apply", 4.0, 0.5, note="batched"),
        Metric("Sync", "latency", 9.0, "ms", "rtt", 1.0, 5.0),
    ])  # fmt: skip
    assert "Machine:" in page
    assert "pycrdt" in page
    assert "## Storage" in page
    assert "## Sync" in page
    assert "| append | 1 s | apply | 4 s | 0.250 | ≤ 0.5 | ✅ |" in page
    assert "| latency | 9 ms | rtt | 1 ms | 9.000 | ≤ 5.0 | ❌ |" in page
    assert "- append: batched" in page
