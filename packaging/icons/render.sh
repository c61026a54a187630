#!/usr/bin/env bash
# Render the app icon at every size the desktop entries use, into the package data
# (p2psync/data/icons/) that `p2psync service install --tray` installs from.
# Source: the tray's app icon, gui/p2psync_tray/icons/p2psync.svg.
# Needs rsvg-convert (Debian: librsvg2-bin). Run by `make icons`; commit the result.
set -euo pipefail
cd "$(dirname "$0")/../.."
src=gui/p2psync_tray/icons/p2psync.svg
out=p2psync/data/icons
sizes=$(.venv/bin/python -c 'from p2psync.cli.service import ICON_SIZES; print(*ICON_SIZES)')
mkdir -p "$out"
for n in $sizes; do
    rsvg-convert --width "$n" --height "$n" --keep-aspect-ratio "$src" -o "$out/$n.png"
done
cp "$src" "$out/p2psync.svg"
echo "rendered $src at $sizes into $out"
