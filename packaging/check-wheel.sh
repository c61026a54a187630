#!/usr/bin/env bash
# Install the wheel from dist/ into a fresh virtual environment and run what a user
# runs first: `p2psync --version`, `p2psync demo`, the user service's files, and
# `p2psync-tray --version` when the tray is part of the tree. Run from a temporary
# directory so nothing is imported from the source tree. CI runs it after `make dist`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
wheel=$(ls dist/p2psync-*.whl)
version=$(.venv/bin/python -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet -c "$ROOT/constraints.txt" "$ROOT/$wheel"
bin=$work/venv/bin
cd "$work"

check() {  # check NAME EXPECTED ACTUAL
    if [ "$2" != "$3" ]; then
        echo "check-wheel: $1: expected '$2', got '$3'" >&2
        exit 1
    fi
    echo "check-wheel: $1: ok"
}

check "p2psync --version" "p2psync $version" "$("$bin/p2psync" --version)"
"$bin/p2psync" demo >demo.out 2>&1 || { cat demo.out >&2; exit 1; }
grep -q "^Merged on both sides" demo.out || { cat demo.out >&2; echo "check-wheel: demo did not merge" >&2; exit 1; }
echo "check-wheel: p2psync demo: ok"

export XDG_CONFIG_HOME=$work/config XDG_DATA_HOME=$work/data
"$bin/p2psync" service install --no-enable >service.out
unit=$XDG_CONFIG_HOME/systemd/user/p2psync.service
check "service unit ExecStart" "ExecStart=$bin/python -m p2psync run" "$(grep '^ExecStart=' "$unit")"
if command -v systemd-analyze >/dev/null; then
    mkdir -p "$work/run"
    out=$(XDG_RUNTIME_DIR=$work/run systemd-analyze --user verify "$unit" 2>&1)
    check "systemd-analyze verify" "" "$out"
fi

if [ -d "$ROOT/gui/p2psync_tray" ]; then
    check "p2psync-tray --version" "p2psync-tray $version" \
        "$(QT_QPA_PLATFORM=offscreen "$bin/p2psync-tray" --version)"
    bash "$ROOT/packaging/smoke-tray.sh" "$bin/p2psync-tray"
    "$bin/p2psync" service install --no-enable --tray >/dev/null
    [ -s "$XDG_DATA_HOME/icons/hicolor/48x48/apps/p2psync.png" ]
    check "tray entry Exec" "Exec=$bin/p2psync-tray" \
        "$(grep '^Exec=' "$XDG_DATA_HOME/applications/p2psync-tray.desktop")"
fi
echo "check-wheel: $wheel works from a fresh virtual environment"
