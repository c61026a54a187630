"""``python -m bench [--only NAME ...] [--quick] [--write]``: run suites, rewrite the page."""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from pathlib import Path

import bench
from bench.harness import BenchContext, render_markdown

PAGE = Path(__file__).parents[1] / "docs" / "benchmarks.md"


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--only", nargs="*", default=[], help="suite names (e.g. storage)")
    parser.add_argument("--quick", action="store_true", help="small inputs, for a smoke run")
    parser.add_argument("--write", action="store_true", help="write the page even if --quick")
    args = parser.parse_args()
    ctx = BenchContext(quick=args.quick)
    names = sorted(
        m.name for m in pkgutil.iter_modules(bench.__path__) if m.name.startswith("bench_")
    )
    for name in names:
        if args.only and name.removeprefix("bench_") not in args.only:
            continue
        print(f"{name}:", flush=True)
        importlib.import_module(f"bench.{name}").run(ctx)
    if not args.quick or args.write:
        PAGE.write_text(render_markdown(ctx.results))
        print(f"wrote {PAGE}")
    missed = [m.name for m in ctx.results if not m.passed]
    if missed:
        print(f"missed targets: {', '.join(missed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
