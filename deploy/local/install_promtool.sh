#!/usr/bin/env bash
# Put promtool at <repo>/.run/prometheus/usr/bin/promtool (TOOLCHAIN.md §4): Debian's prometheus
# package is downloaded and unpacked, never installed, so no server is set up or started.
# No-op when promtool is already there.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEST="$REPO/.run/prometheus"
PROMTOOL="$DEST/usr/bin/promtool"

if [[ -x "$PROMTOOL" ]] && "$PROMTOOL" --version >/dev/null 2>&1; then
    exit 0
fi

command -v apt-get >/dev/null || { echo "install_promtool: needs apt-get (Debian/Ubuntu)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
# apt-get download runs as the _apt user when it can; a world-writable temp dir keeps that working.
chmod 0777 "$work"
if ! apt-get download prometheus >/dev/null 2>&1; then
    apt-get update -qq
    apt-get download prometheus
fi

mkdir -p "$DEST"
dpkg-deb -x prometheus_*.deb "$DEST"
"$PROMTOOL" --version 2>&1 | head -n1 >&2
