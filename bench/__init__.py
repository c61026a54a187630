"""Reproducible benchmarks; results are committed in docs/benchmarks.md.

Run ``make bench`` (``python -m bench``) to run every suite and rewrite the page;
``python -m bench --quick`` is a smoke run on small inputs that leaves the page alone,
``--only storage`` runs some suites, ``--write`` writes the page anyway.

Machines are noisy, so no figure is judged on its own: each is a ratio to an *anchor*
measured moments before in the same run (usually pycrdt doing the same work).

Writing a suite: add ``bench/bench_<name>.py`` with a ``run`` function::

    from bench.harness import BenchContext, Metric, timeit_best
    from bench.traces import load_trace, trace_updates

    GROUP = "Storage (#12)"  # the issue or area; one table per group

    def run(ctx: BenchContext) -> None:
        updates = trace_updates("automerge-paper", client_id=1)  # cached after the 1st run
        if ctx.quick:
            updates = updates[:20_000]
        anchor_s = timeit_best(lambda: apply_all(updates), repeat=3)
        value_s = timeit_best(lambda: my_thing(updates), repeat=3)
        ctx.report(Metric(
            GROUP, "my thing", value_s, "s", "pycrdt apply of the same updates", anchor_s,
            target_ratio=0.5, note="how it was measured, in one sentence",
        ))

Suites run in name order; a suite that raises is reported and the others still run.

What the modules offer:

- ``bench.harness``: ``Metric(group, name, value, unit, anchor_name, anchor_value,
  target_ratio, lower_is_better=True, note="")`` with ``.ratio`` and ``.passed``;
  ``BenchContext(quick, ...)`` with ``.report(metric)``; timing ``timed(fn)``,
  ``measure(fn, repeat) -> Timing(.best, .median, .samples)``, ``timeit_best``,
  ``timeit_median``; memory ``peak_rss_bytes()`` and
  ``run_in_subprocess("module:function", *json_args) -> SubprocessRun`` for figures that
  need a fresh process (peak RSS, cold start); ``render_markdown`` for the page.
- ``bench.traces``: ``load_trace(name) -> Trace`` (patches in code points) and
  ``trace_updates(name, *, client_id=1) -> list[bytes]``, one Yjs v1 update per patch
  into the root Text ``content``, cached under bench/.work. Traces: ``automerge-paper``
  (259,778 patches), ``seph-blog1`` (137,993 patches, non-ASCII on the way).
"""
