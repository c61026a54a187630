#!/usr/bin/env bash
# smoke-tray.sh TRAY: start the tray's Qt app (offscreen) for a fresh device home,
# wait for its first log line (30 s at most), stop it with SIGTERM and require a clean
# exit. Used on the installed wheel (check-wheel.sh) and on the bundle (bundle.sh).
set -euo pipefail
tray=$1
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT
QT_QPA_PLATFORM=offscreen "$tray" --home "$home" >"$home/out" 2>&1 &
pid=$!
for _ in $(seq 300); do  # poll, 0.1 s apart
    grep -q "p2psync_tray" "$home/out" && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
done
kill -TERM "$pid" 2>/dev/null || true
code=0
wait "$pid" || code=$?
grep -q "p2psync_tray" "$home/out" || code="no log line from the tray"
if [ "$code" != 0 ]; then
    cat "$home/out" >&2
    echo "smoke-tray: $tray: $code" >&2
    exit 1
fi
echo "smoke-tray: $tray starts, looks for its daemon and stops on SIGTERM: ok"
