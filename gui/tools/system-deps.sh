#!/usr/bin/env bash
# The Debian packages the tray app and its tests need beyond PySide6's wheel: the
# X libraries Qt's xcb platform plugin loads, a font, Xvfb (a display for the
# end-to-end test) and wmdocker (a real system tray host on that display).
# Installs the missing ones when run as root on Debian; otherwise says what to install.
set -euo pipefail

PACKAGES=(
    xvfb wmdocker fonts-dejavu-core
    libxcb1 libx11-6 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0
    libxcb-keysyms1 libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0
    libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxcb-glx0
    libxkbcommon0 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libfreetype6
    libdbus-1-3 libglib2.0-0
    "$@"  # more packages a caller needs too (packaging/system-deps.sh)
)

missing=()
for package in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing for the tray app and its tests: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "the tray app and its tests need these Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
