#!/usr/bin/env bash
# Debian's Chromium and its WebDriver (chromium, chromium-driver) for the portal's browser
# tests: /usr/bin/chromium and /usr/bin/chromedriver. Installed from apt (the only browser
# source the machines reach); a no-op when both are already there.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1; then
    exit 0
fi

command -v apt-get >/dev/null || { echo "install_browser: needs apt-get (Debian/Ubuntu)" >&2; exit 1; }

SUDO=""
if [[ "$(id -u)" != "0" ]]; then
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
if ! $SUDO apt-get install -y --no-install-recommends chromium chromium-driver >/dev/null 2>&1; then
    $SUDO apt-get update -qq
    $SUDO apt-get install -y --no-install-recommends chromium chromium-driver
fi
chromium --version >&2
chromedriver --version >&2
