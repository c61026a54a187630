"""Benchmarks: ``python -m bench`` (or ``make bench``) runs every ``bench_*.py`` suite and
rewrites docs/benchmarks.md.

A suite is a module with ``def run(ctx: BenchContext) -> None`` that measures
something and its anchor in the same run and calls ``ctx.report(Metric(...))``.
Machines are noisy, so every figure is judged as a ratio against an anchor measured
moments before, never as an absolute time.
"""
