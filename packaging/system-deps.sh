#!/usr/bin/env bash
# The Debian packages the packaging checks use: systemd-analyze (package systemd) to
# verify the user unit, desktop-file-validate (desktop-file-utils) for the desktop
# entries. Installs the missing ones when run as root with apt; otherwise says what
# to install. `make icons` also needs rsvg-convert (librsvg2-bin), a maintainer tool.
set -euo pipefail

declare -A TOOLS=([systemd-analyze]=systemd [desktop-file-validate]=desktop-file-utils)
missing=()
for tool in "${!TOOLS[@]}"; do
    command -v "$tool" >/dev/null || missing+=("${TOOLS[$tool]}")
done
[[ ${#missing[@]} -eq 0 ]] && exit 0

if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    echo "installing for the packaging checks: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
else
    echo "the packaging checks need these Debian packages: ${missing[*]}" >&2
    echo "install them with: sudo apt-get install --no-install-recommends ${missing[*]}" >&2
    exit 1
fi
