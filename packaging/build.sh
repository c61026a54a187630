#!/usr/bin/env bash
# Build the sdist and the wheel into dist/ (`make dist`). `python -m build` builds the
# sdist first and then the wheel from the unpacked sdist, so a wheel here also proves
# the sdist holds everything a build needs.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
rm -rf dist build ./*.egg-info
"$PY" -m build --outdir dist . >build.log 2>&1 || { cat build.log >&2; exit 1; }
rm -f build.log
ls -l dist
