#!/usr/bin/env bash
# Build the OpenTelemetry Collector the tests and the local stack use into
# <repo>/.run/bin/agencyos-otelcol: the Go module in deploy/local/otelcol (the OTLP receiver, the
# batch processor, the file, debug and OTLP exporters, every module at one collector release),
# built with the Go toolchain from the Go module proxy. About seven minutes the first time on
# two busy cores; the Go caches stay under .run/go, and a build whose sources did not change is
# skipped. Log: .run/logs/otelcol-build.log.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
SRC="$REPO/deploy/local/otelcol"
RUN="$REPO/.run"
BIN="$RUN/bin/agencyos-otelcol"
STAMP="$RUN/bin/agencyos-otelcol.sources"
LOG="$RUN/logs/otelcol-build.log"

sources="$(cat "$SRC/go.mod" "$SRC/go.sum" "$SRC/main.go" | sha256sum | cut -d' ' -f1)"
if [[ -x "$BIN" && "$(cat "$STAMP" 2>/dev/null)" == "$sources" ]]; then
    exit 0
fi
command -v go >/dev/null || { echo "install_otelcol: go not found (the collector is built with go build)" >&2; exit 1; }

mkdir -p "$RUN/bin" "$RUN/go" "$RUN/logs"
echo "[otelcol] building the OpenTelemetry Collector (several minutes the first time)" >&2
t0=$SECONDS
if ! (cd "$SRC" && GOMODCACHE="$RUN/go/mod" GOCACHE="$RUN/go/cache" GOFLAGS=-modcacherw \
    GOTOOLCHAIN="${GOTOOLCHAIN:-local}" \
    go build -trimpath -o "$BIN.tmp" .) >"$LOG" 2>&1; then
    tail -n 25 "$LOG" >&2 || true
    echo "install_otelcol: the build failed (full output: $LOG)" >&2
    exit 1
fi
mv "$BIN.tmp" "$BIN"
printf '%s\n' "$sources" >"$STAMP"
echo "[otelcol] built in $((SECONDS - t0))s: $("$BIN" --version)" >&2
