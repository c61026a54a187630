#!/usr/bin/env bash
# Build the standalone one-folder bundle of daemon + tray with PyInstaller
# (`make bundle`), then smoke-test it: `--version` of both commands, the tray
# starting and stopping, a full `p2psync demo` (two daemons started from the bundle
# itself), and the unit `p2psync service install` writes from it.
# Result: dist/bundle/p2psync/ (run ./p2psync or ./p2psync-tray) and
# dist/p2psync-VERSION-linux-ARCH.tar.gz.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PY:-.venv/bin/python}
version=$("$PY" -c 'import p2psync; print(p2psync.__version__)')
work=build/bundle
out=dist/bundle
rm -rf "$work" "$out"

tray=()
if [ -d gui/p2psync_tray ]; then
    tray=(--paths gui --collect-submodules p2psync_tray --collect-data p2psync_tray)
fi
"$PY" -m PyInstaller --noconfirm --clean --log-level WARN --onedir --name p2psync \
    --distpath "$out" --workpath "$work" --specpath "$work" \
    --collect-submodules p2psync --collect-data p2psync \
    --exclude-module tkinter --exclude-module pytest --exclude-module hypothesis \
    "${tray[@]}" packaging/bundle/entry.py
app=$out/p2psync
if [ ${#tray[@]} -gt 0 ]; then
    ln -s p2psync "$app/p2psync-tray"
fi

smoke() {  # smoke NAME EXPECTED ACTUAL
    [ "$2" = "$3" ] || { echo "bundle: $1: expected '$2', got '$3'" >&2; exit 1; }
    echo "bundle: $1: ok"
}
smoke "p2psync --version" "p2psync $version" "$("$app/p2psync" --version)"
if [ -e "$app/p2psync-tray" ]; then
    smoke "p2psync-tray --version" "p2psync-tray $version" \
        "$(QT_QPA_PLATFORM=offscreen "$app/p2psync-tray" --version)"
    bash packaging/smoke-tray.sh "$app/p2psync-tray"  # its Qt app starts from the bundle
fi
demo=$(cd /tmp && "$OLDPWD/$app/p2psync" demo 2>&1) || { echo "$demo" >&2; exit 1; }
grep -q "^Merged on both sides" <<<"$demo" || { echo "$demo" >&2; exit 1; }
echo "bundle: p2psync demo from the bundle: ok"
xdg=$(mktemp -d)
XDG_CONFIG_HOME=$xdg "$app/p2psync" service install --no-enable >/dev/null
smoke "service unit runs the bundle" "ExecStart=$PWD/$app/p2psync run" \
    "$(grep '^ExecStart=' "$xdg/systemd/user/p2psync.service")"
if [ -e "$app/p2psync-tray" ]; then  # the bundle's PySide6 is found, frozen as it is
    XDG_CONFIG_HOME=$xdg XDG_DATA_HOME=$xdg/data "$app/p2psync" service install --no-enable \
        --tray >/dev/null
    smoke "tray entry runs the bundle's tray" "Exec=$PWD/$app/p2psync-tray" \
        "$(grep '^Exec=' "$xdg/data/applications/p2psync-tray.desktop")"
fi
rm -rf "$xdg"

tarball=dist/p2psync-$version-linux-$(uname -m).tar.gz
tar -C "$out" -czf "$tarball" p2psync
echo "bundle: $tarball ($(du -sh "$app" | cut -f1) unpacked)"
