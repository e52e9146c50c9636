#!/usr/bin/env bash
# htmx for the client portal's pages, from the npm registry (package htmx.org, pinned, its
# registry integrity checked), copied to where the portal serves it from its own origin
# (services/portal/src/agencyos/portal/web/static/vendor/htmx.min.js; not committed).
# A no-op when that copy is already the pinned version.
set -euo pipefail

VERSION="2.0.11"
INTEGRITY="sha512-Thx/WtpeOQqSrqBCw/A1cwGJGg4UrVa3+sW0GmrM3p4gJgO89ecH4qtbnyzDDWFvBTqjnIMCgELTNt636dtamA=="

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
DEST="$REPO/services/portal/src/agencyos/portal/web/static/vendor"
STAMP="$DEST/htmx.version"

if [[ -f "$DEST/htmx.min.js" && -f "$STAMP" && "$(cat "$STAMP")" == "$VERSION" ]]; then
    exit 0
fi
command -v npm >/dev/null || { echo "install_htmx: needs npm (the npm registry's client)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cd "$work"
tarball="$(npm pack --silent "htmx.org@$VERSION")"
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [[ "$actual" != "$INTEGRITY" ]]; then
    echo "install_htmx: $tarball does not match the pinned integrity" >&2
    exit 1
fi
tar -xzf "$tarball" package/dist/htmx.min.js package/LICENSE
mkdir -p "$DEST"
cp package/dist/htmx.min.js "$DEST/htmx.min.js"
cp package/LICENSE "$DEST/htmx.LICENSE"
echo "$VERSION" > "$STAMP"
