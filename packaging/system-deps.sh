#!/usr/bin/env bash
# Every Debian package the test suite, the tray app and the packaging checks need
# beyond what pip installs. `make test` runs this first: as root on Debian (CI) the
# missing ones are installed; otherwise it says what to install and fails.
set -euo pipefail

PACKAGES=(
    # tests/netns: network namespaces, veth pairs and a bridge
    iproute2
    # the tray app: the X libraries Qt's xcb platform plugin loads, and a font
    libxcb1 libx11-6 libx11-xcb1 libxcb-cursor0 libxcb-icccm4 libxcb-image0
    libxcb-keysyms1 libxcb-randr0 libxcb-render0 libxcb-render-util0 libxcb-shape0
    libxcb-shm0 libxcb-sync1 libxcb-util1 libxcb-xfixes0 libxcb-xkb1 libxcb-glx0
    libxkbcommon0 libxkbcommon-x11-0 libegl1 libgl1 libfontconfig1 libfreetype6
    libdbus-1-3 libglib2.0-0 fonts-dejavu-core
    # tests/gui end to end: a display and a real system tray host on it
    xvfb wmdocker
    # tests/packaging: systemd-analyze verifies the user unit, desktop-file-validate
    # the desktop entries (`make icons` also needs librsvg2-bin, a maintainer tool)
    systemd desktop-file-utils
    # tests/integration/mirror: a case-insensitive folder (libfuse 3, fusermount3)
    fuse3
    # tests/interop/test_browser.py: a real browser, Debian's Chromium (/usr/bin/chromium),
    # run headless by playwright-core from tests/interop/package.json, which never
    # downloads a browser of its own
    chromium
)

missing=()
for package in "${PACKAGES[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$package" 2>/dev/null || true)
    [[ "$status" == "install ok installed" ]] || missing+=("$package")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing the system packages the tests use: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "the tests need these Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
