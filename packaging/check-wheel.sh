#!/usr/bin/env bash
# Install the wheel from dist/ into a fresh virtual environment and run what a user
# runs first, for both installs: headless (`pip install p2psync`: no PySide6)
# `p2psync --version`, `p2psync demo`, the user service's files, and `p2psync-tray`
# and `service install --tray` refusing in one sentence; then, with the `tray` extra
# added, `p2psync-tray --version`, the tray starting, and its desktop entries. Run
# from a temporary directory so nothing is imported from the source tree. pip takes
# the versions of constraints.txt only. CI runs it after `make dist`.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
wheel=$(ls dist/p2psync-*.whl)
version=$(.venv/bin/python -c 'import tomllib; print(tomllib.load(open("pyproject.toml", "rb"))["project"]["version"])')
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PIP_CONSTRAINT=$ROOT/constraints.txt  # in place of any the machine's pip names
python3 -m venv "$work/venv"
"$work/venv/bin/python" -m pip install --quiet "$ROOT/$wheel"
bin=$work/venv/bin
cd "$work"

check() {  # check NAME EXPECTED ACTUAL
    if [ "$2" != "$3" ]; then
        echo "check-wheel: $1: expected '$2', got '$3'" >&2
        exit 1
    fi
    echo "check-wheel: $1: ok"
}

has_qt() {  # whether the venv's Python finds PySide6 (prints yes or no)
    "$bin/python" -c 'import importlib.util as u; print("no" if u.find_spec("PySide6") is None else "yes")'
}

check "headless install has no PySide6" "no" "$(has_qt)"
check "p2psync --version" "p2psync $version" "$("$bin/p2psync" --version)"
"$bin/p2psync" --help >/dev/null
echo "check-wheel: p2psync --help: ok"
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
    # Headless: the tray says what it needs, in one sentence, and nothing is installed.
    no_pyside6="the tray needs PySide6: pip install 'p2psync[tray]'"
    code=0
    "$bin/p2psync-tray" >tray.out 2>&1 || code=$?
    check "p2psync-tray without PySide6" "5 p2psync-tray: $no_pyside6" "$code $(cat tray.out)"
    code=0
    "$bin/p2psync" service install --no-enable --tray >tray.out 2>&1 || code=$?
    check "service install --tray without PySide6" "5 p2psync: $no_pyside6" "$code $(cat tray.out)"
    [ ! -e "$XDG_DATA_HOME/applications/p2psync-tray.desktop" ]

    # With the extra: the same venv gains PySide6 and the tray works.
    "$bin/python" -m pip install --quiet "$ROOT/$wheel[tray]"
    check "pip install 'p2psync[tray]' brings PySide6" "yes" "$(has_qt)"
    check "p2psync-tray --version" "p2psync-tray $version" \
        "$(QT_QPA_PLATFORM=offscreen "$bin/p2psync-tray" --version)"
    bash "$ROOT/packaging/smoke-tray.sh" "$bin/p2psync-tray"
    "$bin/p2psync" service install --no-enable --tray >/dev/null
    [ -s "$XDG_DATA_HOME/icons/hicolor/48x48/apps/p2psync.png" ]
    check "tray entry Exec" "Exec=$bin/p2psync-tray" \
        "$(grep '^Exec=' "$XDG_DATA_HOME/applications/p2psync-tray.desktop")"
fi
echo "check-wheel: $wheel works from a fresh virtual environment, headless and with the tray"
