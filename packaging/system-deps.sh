#!/usr/bin/env bash
# The Debian packages the packaging checks use, besides the tray's (the wheel and the
# bundle run the tray): systemd for systemd-analyze, which verifies the user unit, and
# desktop-file-utils for desktop-file-validate. Installed with the tray's when missing
# and we are root; otherwise the script says what to install. `make icons` also needs
# rsvg-convert (librsvg2-bin), a maintainer tool.
set -euo pipefail
exec "$(dirname "$0")/../gui/tools/system-deps.sh" systemd desktop-file-utils
