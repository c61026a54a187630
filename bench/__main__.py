"""``python -m bench [--only NAME ...] [--quick] [--write] [--page PATH]``.

Runs the suites, prints each metric as it is measured, and rewrites the results page
(docs/benchmarks.md). The page describes a complete run: a ``--quick`` run (small
inputs) or an ``--only`` run (some suites) leaves it alone unless ``--write`` is given;
an ``--only --write`` run replaces just the sections it measured.
Exits 1 if a metric missed its target or a suite failed (the page is still written),
2 on a usage error.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from types import ModuleType

import bench
from bench.harness import (
    SUITE_PREFIX,
    BenchContext,
    describe_machine,
    discover_suites,
    library_versions,
    render_markdown,
    run_suites,
)

PAGE = Path(__file__).resolve().parents[1] / "docs" / "benchmarks.md"


def main(argv: list[str] | None = None, *, package: ModuleType = bench) -> int:
    """Run the benchmarks as the command line asks; return the exit status."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "--only", nargs="+", default=[], metavar="NAME", help="suites to run (storage, ...)"
    )
    parser.add_argument("--quick", action="store_true", help="small inputs, for a smoke run")
    parser.add_argument("--write", action="store_true", help="write the page after --quick/--only")
    parser.add_argument("--page", type=Path, default=PAGE, help=f"results page (default {PAGE})")
    args = parser.parse_args(argv)

    available = discover_suites(package)
    wanted = [n if n.startswith(SUITE_PREFIX) else SUITE_PREFIX + n for n in args.only]
    unknown = sorted(set(wanted) - set(available))
    if unknown:
        known = ", ".join(n.removeprefix(SUITE_PREFIX) for n in available)
        parser.error(f"no such suite: {', '.join(unknown)} (suites: {known})")
    names = [n for n in available if not wanted or n in wanted]

    ctx = BenchContext(quick=args.quick)
    errors = run_suites(package, names, ctx)

    if args.write or not (args.quick or args.only):
        merge = bool(args.only) and args.page.exists()
        previous = args.page.read_text(encoding="utf-8") if merge else None
        page = render_markdown(
            ctx.results, describe_machine(), library_versions(), quick=args.quick,
            errors=errors, previous=previous,
        )  # fmt: skip
        args.page.parent.mkdir(parents=True, exist_ok=True)
        args.page.write_text(page, encoding="utf-8")
        print(f"wrote {args.page}")
    else:
        print("page not written (--quick or --only without --write)")

    missed = [m for m in ctx.results if not m.passed]
    for metric in missed:
        print(f"missed target: {metric.group} / {metric.line()}", file=sys.stderr)
    for name, error in errors.items():
        print(f"suite failed: {name}: {error}", file=sys.stderr)
    if missed or errors:
        return 1
    print(f"all {len(ctx.results)} metrics met their targets")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
