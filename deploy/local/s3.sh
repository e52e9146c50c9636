#!/usr/bin/env bash
# A real S3-compatible object store for development and tests: versitygw (Versity's S3
# gateway) serving S3 over a directory under .run/s3/data, on loopback only, with development
# keys only. Built once with `go install` from the Go module proxy (about four minutes); the
# binary and the Go caches stay under .run/, so later runs reuse them.
#
#   s3.sh install   build versitygw into .run/bin if it is missing (prints the time it took)
#   s3.sh up        install, start it unless running, wait until it answers
#   s3.sh down      stop it (no error if not running)
#   s3.sh status    one line; exit 3 when not running
#   s3.sh env       print `export` lines for the AGENCYOS_S3_* settings
#
# Port: AGENCYOS_S3_PORT (7070). Keys: AGENCYOS_S3_ACCESS_KEY_ID / AGENCYOS_S3_SECRET_ACCESS_KEY
# (development defaults, the same as the services' own defaults). Buckets are made by the
# project's code (agencyos.common.files.ensure_bucket: `make dev` and the test platform), not
# here. Log: .run/logs/s3.log.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RUN="$REPO/.run"
LOGS="$RUN/logs"
HOST=127.0.0.1
S3_PORT="${AGENCYOS_S3_PORT:-7070}"
ACCESS_KEY="${AGENCYOS_S3_ACCESS_KEY_ID:-agencyos-local-s3}"
SECRET_KEY="${AGENCYOS_S3_SECRET_ACCESS_KEY:-agencyos-local-s3-secret-development-only}"

VERSITYGW_VERSION=v1.8.0
S3_DIR="$RUN/s3"
S3_DATA="$S3_DIR/data"
S3_PIDFILE="$S3_DIR/versitygw.pid"
VERSITYGW_BIN="$RUN/bin/versitygw"
VERSION_FILE="$RUN/bin/versitygw.version"

say() { printf '[s3] %s\n' "$*"; }
die() {
    printf '[s3] ERROR: %s\n' "$*" >&2
    exit 1
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

alive_pid() {
    local pid
    [[ -s "$S3_PIDFILE" ]] || return 1
    pid="$(<"$S3_PIDFILE")"
    [[ "$pid" =~ ^[0-9]+$ && -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- versitygw || return 1
    printf '%s\n' "$pid"
}

# Any HTTP answer (an anonymous request is refused with 403) means it is serving.
answers() {
    curl -s -o /dev/null --max-time 2 -w '%{http_code}' "http://$HOST:$S3_PORT/" 2>/dev/null |
        grep -qE '^[1-5][0-9][0-9]$'
}

cmd_install() {
    if [[ -x "$VERSITYGW_BIN" && "$(cat "$VERSION_FILE" 2>/dev/null)" == "$VERSITYGW_VERSION" ]]; then
        return 0
    fi
    command -v go >/dev/null || die "go not found: versitygw is built with 'go install'"
    local t0=$SECONDS
    mkdir -p "$RUN/bin" "$RUN/go" "$LOGS"
    say "go install github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION (about four minutes the first time)"
    if ! GOBIN="$RUN/bin" GOMODCACHE="$RUN/go/mod" GOCACHE="$RUN/go/cache" GOFLAGS=-modcacherw \
        GOPROXY="${GOPROXY:-https://proxy.golang.org}" GOTOOLCHAIN="${GOTOOLCHAIN:-local}" \
        go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION" \
        >"$LOGS/s3-build.log" 2>&1; then
        tail -n 25 "$LOGS/s3-build.log" >&2 || true
        die "could not build versitygw (full output: $LOGS/s3-build.log)"
    fi
    printf '%s\n' "$VERSITYGW_VERSION" >"$VERSION_FILE"
    say "versitygw built in $((SECONDS - t0))s"
}

cmd_up() {
    local t0=$SECONDS pid i
    cmd_install
    if pid="$(alive_pid)"; then
        say "already running (pid $pid, http://$HOST:$S3_PORT)"
        return 0
    fi
    if port_open "$S3_PORT"; then
        die "port $S3_PORT is already in use; stop what holds it or set AGENCYOS_S3_PORT"
    fi
    mkdir -p "$S3_DATA" "$LOGS"
    say "starting versitygw on http://$HOST:$S3_PORT (data $S3_DATA)"
    ROOT_ACCESS_KEY="$ACCESS_KEY" ROOT_SECRET_KEY="$SECRET_KEY" \
        nohup "$VERSITYGW_BIN" --port "$HOST:$S3_PORT" posix "$S3_DATA" \
        >>"$LOGS/s3.log" 2>&1 </dev/null 9>&- &
    printf '%s\n' "$!" >"$S3_PIDFILE"
    for ((i = 0; i < 300; i++)); do
        if answers; then
            say "up in $((SECONDS - t0))s"
            return 0
        fi
        alive_pid >/dev/null || break
        sleep 0.1
    done
    tail -n 25 "$LOGS/s3.log" >&2 || true
    die "versitygw did not answer on $HOST:$S3_PORT"
}

cmd_down() {
    local pid i
    if ! pid="$(alive_pid)"; then
        say "not running"
        rm -f "$S3_PIDFILE"
        return 0
    fi
    say "stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null || true
    rm -f "$S3_PIDFILE"
}

cmd_status() {
    local pid state=answering
    if pid="$(alive_pid)"; then
        answers || state="not answering"
        printf '%-9s running  pid %-7s http://%s:%s  %s  data %s\n' s3 "$pid" "$HOST" "$S3_PORT" \
            "$state" "$S3_DATA"
        return 0
    fi
    printf '%-9s stopped\n' s3
    return 3
}

cmd_env() {
    cat <<EOT
export AGENCYOS_S3_ENDPOINT_URL=http://$HOST:$S3_PORT
export AGENCYOS_S3_ACCESS_KEY_ID=$ACCESS_KEY
export AGENCYOS_S3_SECRET_ACCESS_KEY=$SECRET_KEY
EOT
}

case "${1:-}" in
    install) cmd_install ;;
    up) cmd_up ;;
    down) cmd_down ;;
    status) cmd_status ;;
    env) cmd_env ;;
    *)
        sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
