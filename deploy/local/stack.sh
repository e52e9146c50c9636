#!/usr/bin/env bash
# AgencyOS local infrastructure without Docker: PostgreSQL 15 (apt), Redis (apt) and a
# single-node KRaft Kafka 3.9 broker (jars from Maven Central), stripe-mock (Stripe's
# official API mock) and mailpit (a real SMTP server with a REST API and web UI), both built
# with `go install` from the Go module proxy, and an OpenID Connect provider for single sign-on
# (NAV's mock-oauth2-server, jars from Maven Central, on the JVM Kafka uses), and an
# S3-compatible object store (versitygw, built with `go install`; its own script, s3.sh).
#
#   stack.sh install        install what is missing (apt packages, Kafka jars); nothing else
#   stack.sh up             install, start whatever is not running, wait until ready,
#                           create roles/databases/topics (idempotent; safe to re-run)
#   stack.sh down           stop PostgreSQL, Redis, Kafka, stripe-mock, mailpit and the OIDC
#                           provider (no error if not running)
#   stack.sh kafka stop     stop only the broker and wait until the process is gone
#   stack.sh kafka start    start only the broker (same data dir / cluster id) and wait
#   stack.sh kafka restart  stop + start
#   stack.sh mailpit start|stop|restart   only mailpit (installed first if missing)
#   stack.sh oidc start|stop|restart      only the OIDC provider (installed first if missing)
#   stack.sh reset          down, then delete all data (keeps downloaded jars)
#   stack.sh status         one line per component; exit 3 if anything is not running
#   stack.sh env            print `export` lines for the AGENCYOS_* connection settings
#
# Ports: AGENCYOS_POSTGRES_PORT (55432), AGENCYOS_REDIS_PORT (6379), AGENCYOS_KAFKA_PORT (9092),
# AGENCYOS_KAFKA_CONTROLLER_PORT (9093), AGENCYOS_STRIPE_MOCK_PORT (12111), AGENCYOS_SMTP_PORT
# (mailpit's SMTP, 1025), AGENCYOS_MAILPIT_PORT (mailpit's REST API and UI, 8025); mailpit keeps
# at most AGENCYOS_MAILPIT_MAX_MESSAGES (100000). The OIDC provider: AGENCYOS_OIDC_PORT (18080;
# every path segment is an issuer: http://127.0.0.1:18080/<any-id>). Everything lives under <repo>/.run/ (git-ignored),
# except PostgreSQL's data directory when running as root: the server runs as the `postgres`
# user, which may not be able to enter the checkout, so its data lives in
# ${TMPDIR:-/tmp}/agencyos-pg-<hash of the repo path> and .run/postgres is a symlink to it.
# Logs: .run/logs/{postgres,redis,kafka,stripe-mock,mailpit,oidc}.log.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
RUN="$REPO/.run"
LOGS="$RUN/logs"
VENV_PY="$REPO/.venv/bin/python"

HOST=127.0.0.1
PG_PORT="${AGENCYOS_POSTGRES_PORT:-55432}"
REDIS_PORT="${AGENCYOS_REDIS_PORT:-6379}"
KAFKA_PORT="${AGENCYOS_KAFKA_PORT:-9092}"
KAFKA_CONTROLLER_PORT="${AGENCYOS_KAFKA_CONTROLLER_PORT:-9093}"
STRIPE_MOCK_PORT="${AGENCYOS_STRIPE_MOCK_PORT:-12111}"
# stripe-mock always serves HTTPS too; pinned to loopback on the next port (unused by tests).
STRIPE_MOCK_HTTPS_PORT="${AGENCYOS_STRIPE_MOCK_HTTPS_PORT:-$((STRIPE_MOCK_PORT + 1))}"
SMTP_PORT="${AGENCYOS_SMTP_PORT:-1025}"
MAILPIT_PORT="${AGENCYOS_MAILPIT_PORT:-8025}"
MAILPIT_MAX_MESSAGES="${AGENCYOS_MAILPIT_MAX_MESSAGES:-100000}"
OIDC_PORT="${AGENCYOS_OIDC_PORT:-18080}"

PGBIN="${AGENCYOS_PGBIN:-/usr/lib/postgresql/15/bin}"
# One database per service, named by agencyos.common.services (read once the venv exists).
DATABASES=()

KAFKA_VERSION=3.9.1
KAFKA_HOME="$RUN/kafka"
KAFKA_LIB="$KAFKA_HOME/lib"
KAFKA_DATA="$KAFKA_HOME/data"
KAFKA_CONF="$KAFKA_HOME/server.properties"
KAFKA_PIDFILE="$KAFKA_HOME/kafka.pid"
KAFKA_POM="$HERE/kafka/pom.xml"
KAFKA_LOG4J="$HERE/kafka/log4j.properties"
KAFKA_READY_TIMEOUT=90

REDIS_DIR="$RUN/redis"

STRIPE_MOCK_VERSION=v0.197.0
STRIPE_MOCK_DIR="$RUN/stripe-mock"
STRIPE_MOCK_BIN="$STRIPE_MOCK_DIR/bin/stripe-mock"
STRIPE_MOCK_PIDFILE="$STRIPE_MOCK_DIR/stripe-mock.pid"

MAILPIT_VERSION=v1.33.1
MAILPIT_DIR="$RUN/mailpit"
MAILPIT_BIN="$MAILPIT_DIR/bin/mailpit"
MAILPIT_PIDFILE="$MAILPIT_DIR/mailpit.pid"
REDIS_PIDFILE="$REDIS_DIR/redis.pid"

OIDC_VERSION=2.1.10 # no.nav.security:mock-oauth2-server (see oidc/pom.xml)
OIDC_HOME="$RUN/oidc"
OIDC_LIB="$OIDC_HOME/lib"
OIDC_PIDFILE="$OIDC_HOME/oidc.pid"
OIDC_POM="$HERE/oidc/pom.xml"
OIDC_CONFIG="$HERE/oidc/config.json"
OIDC_MAIN=no.nav.security.mock.oauth2.StandaloneMockOAuth2ServerKt
OIDC_READY_TIMEOUT=60

UV_VERSION=0.13.9

say() { printf '[stack] %s\n' "$*"; }
warn() { printf '[stack] WARNING: %s\n' "$*" >&2; }
die() {
    printf '[stack] ERROR: %s\n' "$*" >&2
    exit 1
}
is_root() { [[ "$(id -u)" -eq 0 ]]; }

# Print the pid in $1 if that process is alive and its command line contains $2.
alive_pid() {
    local file=$1 pattern=$2 pid
    [[ -s "$file" ]] || return 1
    pid="$(<"$file")"
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$pattern" || return 1
    printf '%s\n' "$pid"
}

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

# True while pid $1 exists and is not a zombie (an exited daemon whose parent never reaps it).
pid_running() {
    local state
    kill -0 "$1" 2>/dev/null || return 1
    state="$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null || true)"
    [[ -n "$state" && "$state" != Z ]]
}

# Wait until pid $1 has exited (up to $2 seconds); SIGKILL it after that.
wait_gone() {
    local pid=$1 budget=$2 i
    for ((i = 0; i < budget * 10; i++)); do
        pid_running "$pid" || return 0
        sleep 0.1
    done
    warn "pid $pid still alive after ${budget}s, sending SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for ((i = 0; i < 50; i++)); do
        pid_running "$pid" || return 0
        sleep 0.1
    done
    return 1
}

show_log_tail() {
    local file=$1
    if [[ -r "$file" ]]; then
        printf '[stack] --- last lines of %s ---\n' "$file" >&2
        tail -n 25 "$file" >&2 || true
        printf '[stack] ---\n' >&2
    fi
}

# ---------------------------------------------------------------------------- PostgreSQL dirs
# Root: data under the system temp dir (reachable by `postgres`), recorded as .run/postgres ->.
# Non-root: everything directly under .run/postgres, run as the current user.
pg_base_dir() {
    if ! is_root; then
        printf '%s\n' "$RUN/postgres"
    elif [[ -L "$RUN/postgres" ]]; then
        readlink "$RUN/postgres"
    else
        local hash
        hash="$(printf '%s' "$REPO" | sha256sum | cut -c1-12)"
        printf '%s\n' "${TMPDIR:-/tmp}/agencyos-pg-$hash"
    fi
}
PG_BASE="$(pg_base_dir)"
PG_DATA="$PG_BASE/data"
if is_root; then PG_LOG="$PG_BASE/server.log"; else PG_LOG="$LOGS/postgres.log"; fi

# Run a PostgreSQL server binary as the user that owns the cluster.
as_pg() {
    if is_root; then
        (cd / && runuser -u postgres -- "$@")
    else
        "$@"
    fi
}

# ---------------------------------------------------------------------------- install
install_apt_packages() {
    local pkgs=()
    if [[ ! -x "$PGBIN/initdb" || ! -x "$PGBIN/pg_ctl" || ! -x "$PGBIN/postgres" ]]; then
        pkgs+=(postgresql)
    fi
    if ! command -v redis-server >/dev/null || ! command -v redis-cli >/dev/null; then
        pkgs+=(redis-server)
    fi
    # PgBouncer: the tests run the services' database access through a real one in
    # transaction mode, as the chart's CloudNativePG Pooler does.
    if ! command -v pgbouncer >/dev/null && [[ ! -x /usr/sbin/pgbouncer ]]; then
        pkgs+=(pgbouncer)
    fi
    if ! command -v java >/dev/null; then pkgs+=(default-jre-headless); fi
    if ! command -v curl >/dev/null; then pkgs+=(curl); fi # the OIDC provider's readiness
    if { ! kafka_jars_present || ! oidc_jars_present; } && ! command -v mvn >/dev/null; then
        pkgs+=(maven)
    fi
    ((${#pkgs[@]})) || return 0

    is_root || die "missing packages (${pkgs[*]}); install them as root: apt-get install -y ${pkgs[*]}"
    local t0=$SECONDS
    say "installing from apt: ${pkgs[*]}"
    if ! { DEBIAN_FRONTEND=noninteractive apt-get update -q &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${pkgs[@]}"; } >"$LOGS/apt.log" 2>&1; then
        show_log_tail "$LOGS/apt.log"
        die "apt-get failed (full output: $LOGS/apt.log)"
    fi
    # The packages may auto-start system instances (postgresql 15/main on 5432, redis on 6379);
    # the local stack runs its own, so stop those and keep them from coming back.
    if [[ " ${pkgs[*]} " == *" postgresql "* ]] && command -v pg_ctlcluster >/dev/null; then
        pg_ctlcluster 15 main stop >/dev/null 2>&1 || true
    fi
    if [[ " ${pkgs[*]} " == *" redis-server "* ]]; then
        if [[ -d /run/systemd/system ]]; then
            systemctl disable --now redis-server >/dev/null 2>&1 || true
        elif [[ -x /etc/init.d/redis-server ]]; then
            /etc/init.d/redis-server stop >/dev/null 2>&1 || true
        fi
    fi
    if [[ " ${pkgs[*]} " == *" pgbouncer "* ]]; then
        if [[ -d /run/systemd/system ]]; then
            systemctl disable --now pgbouncer >/dev/null 2>&1 || true
        elif [[ -x /etc/init.d/pgbouncer ]]; then
            /etc/init.d/pgbouncer stop >/dev/null 2>&1 || true
        fi
    fi
    if [[ " ${pkgs[*]} " == *" postgresql "* && -d /run/systemd/system ]]; then
        systemctl disable --now postgresql >/dev/null 2>&1 || true
    fi
    say "apt packages installed in $((SECONDS - t0))s"
}

kafka_pom_hash() { sha256sum "$KAFKA_POM" | cut -c1-16; }

kafka_jars_present() {
    [[ -f "$KAFKA_LIB/.complete" && -f "$KAFKA_LIB/kafka_2.13-$KAFKA_VERSION.jar" ]] &&
        [[ "$(<"$KAFKA_LIB/.complete")" == "$(kafka_pom_hash)" ]]
}

install_kafka_jars() {
    kafka_jars_present && return 0
    command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
    local t0=$SECONDS tmp="$KAFKA_HOME/lib.partial"
    say "kafka: resolving broker $KAFKA_VERSION jars from Maven Central (first run only)..."
    mkdir -p "$KAFKA_HOME"
    rm -rf "$tmp"
    # The Maven cache lives in .run/m2 too, so nothing is downloaded outside the checkout.
    if ! mvn -q -B -f "$KAFKA_POM" -Dmaven.repo.local="$RUN/m2" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
        >"$LOGS/maven.log" 2>&1; then
        rm -rf "$tmp"
        show_log_tail "$LOGS/maven.log"
        die "Maven could not resolve the Kafka jars (full output: $LOGS/maven.log)"
    fi
    rm -rf "$HERE/kafka/target"
    kafka_pom_hash >"$tmp/.complete"
    rm -rf "$KAFKA_LIB"
    mv "$tmp" "$KAFKA_LIB"
    say "kafka: $(find "$KAFKA_LIB" -name '*.jar' | wc -l) jars in .run/kafka/lib ($((SECONDS - t0))s)"
}

ensure_venv() {
    [[ -x "$VENV_PY" ]] && return 0
    local -a uv=(uv)
    if ! command -v uv >/dev/null; then
        if ! python3 -m uv --version >/dev/null 2>&1; then
            say "installing uv==$UV_VERSION with pip"
            python3 -m pip install -q "uv==$UV_VERSION" 2>/dev/null ||
                python3 -m pip install -q --user --break-system-packages "uv==$UV_VERSION"
        fi
        # pip may have put the uv script off PATH (e.g. ~/.local/bin); the module always works.
        uv=(python3 -m uv)
    fi
    say "creating .venv (uv sync)"
    (cd "$REPO" && "${uv[@]}" sync)
}

cmd_install() {
    mkdir -p "$RUN" "$LOGS"
    install_apt_packages
    install_kafka_jars
    install_stripe_mock
    install_mailpit
    install_oidc_jars
    bash "$HERE/s3.sh" install
}

# ---------------------------------------------------------------------------- PostgreSQL
pg_running() {
    [[ -f "$PG_DATA/postmaster.pid" ]] || return 1
    as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" status >/dev/null 2>&1
}

pg_pid() { sed -n 1p "$PG_DATA/postmaster.pid" 2>/dev/null; }
pg_running_port() { sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null; }

pg_prepare_base() {
    if ! is_root; then
        mkdir -p "$PG_BASE"
        chmod 700 "$PG_BASE"
        return 0
    fi
    install -d -o postgres -g postgres -m 0700 "$PG_BASE"
    if ! runuser -u postgres -- test -w "$PG_BASE" 2>/dev/null; then
        die "the postgres user cannot write $PG_BASE; set TMPDIR to a world-traversable directory"
    fi
    ln -sfn "$PG_BASE" "$RUN/postgres"
    ln -sfn "$PG_LOG" "$LOGS/postgres.log"
}

pg_write_conf() {
    local socket_dir="$PG_BASE"
    # Unix socket paths are limited to ~107 bytes; TCP is what everything here uses anyway.
    ((${#socket_dir} < 90)) || socket_dir=""
    cat >"$PG_DATA/agencyos.conf" <<EOF
# Written by deploy/local/stack.sh on every start; throwaway dev/test instance.
port = $PG_PORT
listen_addresses = '$HOST'
unix_socket_directories = '$socket_dir'
max_connections = 300
fsync = off
synchronous_commit = off
full_page_writes = off
EOF
    if is_root; then chown postgres:postgres "$PG_DATA/agencyos.conf"; fi
}

pg_start() {
    if pg_running; then
        local port
        port="$(pg_running_port)"
        [[ "$port" == "$PG_PORT" ]] ||
            die "PostgreSQL is already running on port $port, not $PG_PORT; run 'stack.sh down' first"
        say "postgres: already running (pid $(pg_pid), $HOST:$PG_PORT)"
        return 0
    fi
    [[ -x "$PGBIN/pg_ctl" ]] || die "PostgreSQL binaries not found in $PGBIN (run 'stack.sh install')"
    if port_open "$PG_PORT"; then
        die "port $PG_PORT is already in use by something else; stop it or set AGENCYOS_POSTGRES_PORT"
    fi
    pg_prepare_base
    if [[ ! -s "$PG_DATA/PG_VERSION" ]]; then
        say "postgres: initdb in $PG_DATA"
        rm -rf "$PG_DATA"
        if ! as_pg "$PGBIN/initdb" -D "$PG_DATA" -U postgres --auth=trust -E UTF8 \
            --locale=C.UTF-8 --no-sync >"$LOGS/postgres-initdb.log" 2>&1; then
            show_log_tail "$LOGS/postgres-initdb.log"
            die "initdb failed"
        fi
        printf "\ninclude_if_exists = 'agencyos.conf'\n" >>"$PG_DATA/postgresql.conf"
    fi
    pg_write_conf
    say "postgres: starting on $HOST:$PG_PORT"
    if ! as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null 9>&-; then
        show_log_tail "$PG_LOG"
        die "PostgreSQL did not start"
    fi
}

pg_wait_ready() {
    local i
    for ((i = 0; i < 300; i++)); do
        if "$PGBIN/pg_isready" -q -h "$HOST" -p "$PG_PORT" -U postgres; then return 0; fi
        sleep 0.1
    done
    show_log_tail "$PG_LOG"
    die "PostgreSQL is not accepting connections on $HOST:$PG_PORT"
}

pg_bootstrap_sql() {
    cat <<'EOF'
SET client_min_messages = warning;
SELECT 'CREATE ROLE agencyos_owner'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agencyos_owner') \gexec
SELECT 'CREATE ROLE agencyos_app'
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'agencyos_app') \gexec
ALTER ROLE agencyos_owner WITH LOGIN CREATEDB NOSUPERUSER NOCREATEROLE PASSWORD 'agencyos_owner';
ALTER ROLE agencyos_app WITH LOGIN NOBYPASSRLS NOSUPERUSER NOCREATEDB NOCREATEROLE
  PASSWORD 'agencyos_app';
EOF
    local svc db
    for svc in "${DATABASES[@]}"; do
        db="agencyos_$svc"
        cat <<EOF
SELECT 'CREATE DATABASE $db OWNER agencyos_owner'
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '$db') \\gexec
ALTER DATABASE $db OWNER TO agencyos_owner;
GRANT CONNECT, TEMP ON DATABASE $db TO agencyos_app;
\\connect $db
SET client_min_messages = warning;
ALTER SCHEMA public OWNER TO agencyos_owner;
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO agencyos_app;
ALTER DEFAULT PRIVILEGES FOR ROLE agencyos_owner IN SCHEMA public
  GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO agencyos_app;
ALTER DEFAULT PRIVILEGES FOR ROLE agencyos_owner IN SCHEMA public
  GRANT USAGE, SELECT ON SEQUENCES TO agencyos_app;
\\connect postgres
EOF
    done
}

load_databases() {
    local names
    names="$("$VENV_PY" -m agencyos.common.services)" || die "cannot list the services (.venv?)"
    mapfile -t DATABASES <<<"$names"
}

pg_bootstrap() {
    load_databases
    if ! pg_bootstrap_sql | "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$HOST" -p "$PG_PORT" \
        -U postgres -d postgres >/dev/null; then
        die "creating roles/databases failed"
    fi
    say "postgres: roles agencyos_owner/agencyos_app and ${#DATABASES[@]} databases ready"
}

pg_stop() {
    if pg_running; then
        say "postgres: stopping"
        as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null
    else
        say "postgres: not running"
    fi
}

# ---------------------------------------------------------------------------- Redis
redis_pid() { alive_pid "$REDIS_PIDFILE" redis-server; }
redis_ping() { [[ "$(redis-cli -h "$HOST" -p "$1" ping 2>/dev/null)" == PONG ]]; }

redis_start() {
    local pid i
    mkdir -p "$REDIS_DIR"
    if pid="$(redis_pid)"; then
        redis_ping "$REDIS_PORT" ||
            die "Redis (pid $pid) runs but not on port $REDIS_PORT; run 'stack.sh down' first"
        say "redis: already running (pid $pid, $HOST:$REDIS_PORT)"
        return 0
    fi
    command -v redis-server >/dev/null || die "redis-server not found (run 'stack.sh install')"
    if port_open "$REDIS_PORT"; then
        die "port $REDIS_PORT is already in use by something else; stop it or set AGENCYOS_REDIS_PORT"
    fi
    rm -f "$REDIS_PIDFILE"
    cat >"$REDIS_DIR/redis.conf" <<EOF
# Written by deploy/local/stack.sh on every start; no persistence.
bind $HOST
port $REDIS_PORT
daemonize yes
save ""
appendonly no
dir "$REDIS_DIR"
logfile "$LOGS/redis.log"
pidfile "$REDIS_PIDFILE"
EOF
    say "redis: starting on $HOST:$REDIS_PORT"
    redis-server "$REDIS_DIR/redis.conf" 9>&-
    for ((i = 0; i < 100; i++)); do
        if redis_pid >/dev/null && redis_ping "$REDIS_PORT"; then
            printf '%s\n' "$REDIS_PORT" >"$REDIS_DIR/redis.port"
            return 0
        fi
        sleep 0.1
    done
    show_log_tail "$LOGS/redis.log"
    die "Redis did not start"
}

redis_stop() {
    local pid port
    if ! pid="$(redis_pid)"; then
        say "redis: not running"
        return 0
    fi
    say "redis: stopping"
    port="$(cat "$REDIS_DIR/redis.port" 2>/dev/null || printf '%s' "$REDIS_PORT")"
    redis-cli -h "$HOST" -p "$port" shutdown nosave >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 20
    rm -f "$REDIS_PIDFILE"
}

# ---------------------------------------------------------------------------- Kafka
kafka_pid() { alive_pid "$KAFKA_PIDFILE" kafka.Kafka; }

kafka_java_opts() {
    printf '%s\n' -Xms256m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:-UsePerfData \
        -Djava.awt.headless=true "-Dlog4j.configuration=file:$KAFKA_LOG4J"
}

kafka_write_conf() {
    cat >"$KAFKA_CONF" <<EOF
# Written by deploy/local/stack.sh on every start: single-node KRaft broker for dev/tests.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs=$KAFKA_DATA
num.partitions=1
default.replication.factor=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
group.initial.rebalance.delay.ms=0
num.network.threads=2
num.io.threads=2
log.cleaner.dedupe.buffer.size=33554432
auto.create.topics.enable=false
EOF
}

# Cluster id: from the formatted data dir if there is one, else the recorded one, else new.
kafka_cluster_id() {
    local cid=""
    if [[ -f "$KAFKA_DATA/meta.properties" ]]; then
        cid="$(sed -n 's/^cluster\.id=//p' "$KAFKA_DATA/meta.properties")"
    fi
    if [[ -z "$cid" && -s "$KAFKA_HOME/cluster.id" ]]; then cid="$(<"$KAFKA_HOME/cluster.id")"; fi
    while [[ -z "$cid" || "$cid" == -* ]]; do
        cid="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    done
    printf '%s\n' "$cid" >"$KAFKA_HOME/cluster.id"
    printf '%s\n' "$cid"
}

kafka_start_process() {
    local pid i cid
    local -a jopts
    mapfile -t jopts < <(kafka_java_opts)
    if pid="$(kafka_pid)"; then
        local port
        port="$(cat "$KAFKA_HOME/kafka.port" 2>/dev/null || true)"
        [[ -z "$port" || "$port" == "$KAFKA_PORT" ]] ||
            die "Kafka (pid $pid) is running on port $port, not $KAFKA_PORT; run 'stack.sh kafka stop' first"
        say "kafka: already running (pid $pid, $HOST:$KAFKA_PORT)"
        return 0
    fi
    kafka_jars_present || die "Kafka jars missing (run 'stack.sh install')"
    command -v java >/dev/null || die "java not found (apt-get install -y default-jre-headless)"
    local p
    for p in "$KAFKA_PORT" "$KAFKA_CONTROLLER_PORT"; do
        if port_open "$p"; then
            die "port $p is already in use; stop what holds it or set AGENCYOS_KAFKA_PORT/_CONTROLLER_PORT"
        fi
    done
    mkdir -p "$KAFKA_DATA" "$LOGS"
    kafka_write_conf
    cid="$(kafka_cluster_id)"
    if [[ ! -f "$KAFKA_DATA/meta.properties" ]]; then
        say "kafka: formatting $KAFKA_DATA (cluster id $cid)"
        if ! java "${jopts[@]}" -cp "$KAFKA_LIB/*" kafka.tools.StorageTool format -t "$cid" \
            -c "$KAFKA_CONF" --ignore-formatted >>"$LOGS/kafka.log" 2>&1; then
            show_log_tail "$LOGS/kafka.log"
            die "formatting the Kafka storage failed"
        fi
    fi
    say "kafka: starting on $HOST:$KAFKA_PORT (controller $KAFKA_CONTROLLER_PORT)"
    rm -f "$KAFKA_PIDFILE"
    printf '\n===== %s kafka start (stack.sh) =====\n' "$(date '+%F %T')" >>"$LOGS/kafka.log"
    # New session so a Ctrl-C in the calling terminal does not reach the broker; the wrapper
    # writes its own pid and then execs java, so the pid file names the JVM.
    # shellcheck disable=SC2016  # $$ and $@ belong to the inner shell
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' kafka "$KAFKA_PIDFILE" \
        java "${jopts[@]}" -cp "$KAFKA_LIB/*" kafka.Kafka "$KAFKA_CONF" \
        >>"$LOGS/kafka.log" 2>&1 </dev/null 9>&- &
    for ((i = 0; i < 100; i++)); do
        [[ -s "$KAFKA_PIDFILE" ]] && break
        sleep 0.1
    done
    printf '%s\n' "$KAFKA_PORT" >"$KAFKA_HOME/kafka.port"
}

kafka_wait_ready() {
    local pid t0=$SECONDS
    pid="$(kafka_pid)" || {
        show_log_tail "$LOGS/kafka.log"
        die "Kafka exited right after starting"
    }
    if ! "$VENV_PY" "$HERE/kafka_ready.py" --bootstrap "$HOST:$KAFKA_PORT" \
        --timeout "$KAFKA_READY_TIMEOUT" --pid "$pid" --ensure-topics; then
        show_log_tail "$LOGS/kafka.log"
        die "Kafka is not ready (log: $LOGS/kafka.log)"
    fi
    say "kafka: ready, topics present ($((SECONDS - t0))s)"
}

kafka_stop() {
    local pid
    if ! pid="$(kafka_pid)"; then
        say "kafka: not running"
        rm -f "$KAFKA_PIDFILE"
        return 0
    fi
    say "kafka: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 60 || die "Kafka (pid $pid) would not exit"
    rm -f "$KAFKA_PIDFILE"
    say "kafka: stopped"
}

# ---------------------------------------------------------------------------- stripe-mock
install_stripe_mock() {
    if [[ -x "$STRIPE_MOCK_BIN" && "$(cat "$STRIPE_MOCK_DIR/version" 2>/dev/null)" == "$STRIPE_MOCK_VERSION" ]]; then
        return 0
    fi
    command -v go >/dev/null || die "go not found: stripe-mock is built with 'go install'"
    say "stripe-mock: go install github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION"
    mkdir -p "$STRIPE_MOCK_DIR/bin"
    GOBIN="$STRIPE_MOCK_DIR/bin" go install "github.com/stripe/stripe-mock@$STRIPE_MOCK_VERSION" ||
        die "could not build stripe-mock"
    printf '%s\n' "$STRIPE_MOCK_VERSION" >"$STRIPE_MOCK_DIR/version"
}

stripe_mock_pid() { alive_pid "$STRIPE_MOCK_PIDFILE" stripe-mock; }

stripe_mock_start() {
    local pid i
    if pid="$(stripe_mock_pid)"; then
        say "stripe-mock: already running (pid $pid, $HOST:$STRIPE_MOCK_PORT)"
        return 0
    fi
    if port_open "$STRIPE_MOCK_PORT"; then
        die "port $STRIPE_MOCK_PORT is already in use; stop it or set AGENCYOS_STRIPE_MOCK_PORT"
    fi
    say "stripe-mock: starting on $HOST:$STRIPE_MOCK_PORT"
    # Loopback only: its default would also open HTTPS on every interface (port 12112).
    nohup "$STRIPE_MOCK_BIN" -http-addr "$HOST:$STRIPE_MOCK_PORT" \
        -https-addr "$HOST:$STRIPE_MOCK_HTTPS_PORT" >"$LOGS/stripe-mock.log" 2>&1 9>&- &
    printf '%s\n' "$!" >"$STRIPE_MOCK_PIDFILE"
    for ((i = 0; i < 100; i++)); do
        if port_open "$STRIPE_MOCK_PORT"; then
            return 0
        fi
        sleep 0.1
    done
    show_log_tail "$LOGS/stripe-mock.log"
    die "stripe-mock did not start"
}

stripe_mock_stop() {
    local pid
    if ! pid="$(stripe_mock_pid)"; then
        say "stripe-mock: not running"
        rm -f "$STRIPE_MOCK_PIDFILE"
        return 0
    fi
    say "stripe-mock: stopping"
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 20
    rm -f "$STRIPE_MOCK_PIDFILE"
}

# ---------------------------------------------------------------------------- mailpit
install_mailpit() {
    if [[ -x "$MAILPIT_BIN" && "$(cat "$MAILPIT_DIR/version" 2>/dev/null)" == "$MAILPIT_VERSION" ]]; then
        return 0
    fi
    command -v go >/dev/null || die "go not found: mailpit is built with 'go install'"
    local t0=$SECONDS
    say "mailpit: go install github.com/axllent/mailpit@$MAILPIT_VERSION (a few minutes the first time)"
    mkdir -p "$MAILPIT_DIR/bin"
    GOPROXY="${GOPROXY:-https://proxy.golang.org}" GOTOOLCHAIN="${GOTOOLCHAIN:-local}" \
        GOBIN="$MAILPIT_DIR/bin" go install "github.com/axllent/mailpit@$MAILPIT_VERSION" ||
        die "could not build mailpit"
    printf '%s\n' "$MAILPIT_VERSION" >"$MAILPIT_DIR/version"
    say "mailpit: built in $((SECONDS - t0))s"
}

mailpit_pid() { alive_pid "$MAILPIT_PIDFILE" mailpit; }

mailpit_start() {
    local pid i
    if pid="$(mailpit_pid)"; then
        say "mailpit: already running (pid $pid, smtp $HOST:$SMTP_PORT, api $HOST:$MAILPIT_PORT)"
        return 0
    fi
    for port in "$SMTP_PORT" "$MAILPIT_PORT"; do
        if port_open "$port"; then
            die "port $port is already in use; stop it or set AGENCYOS_SMTP_PORT / AGENCYOS_MAILPIT_PORT"
        fi
    done
    say "mailpit: starting (smtp $HOST:$SMTP_PORT, api and ui http://$HOST:$MAILPIT_PORT)"
    # Any login is accepted, even over plain text, so SMTP auth settings can be exercised.
    nohup "$MAILPIT_BIN" --smtp "$HOST:$SMTP_PORT" --listen "$HOST:$MAILPIT_PORT" \
        --database "$MAILPIT_DIR/mailpit.db" --max "$MAILPIT_MAX_MESSAGES" \
        --smtp-auth-accept-any --smtp-auth-allow-insecure --disable-version-check \
        >"$LOGS/mailpit.log" 2>&1 9>&- &
    printf '%s\n' "$!" >"$MAILPIT_PIDFILE"
    for ((i = 0; i < 100; i++)); do
        if port_open "$SMTP_PORT" && port_open "$MAILPIT_PORT"; then
            return 0
        fi
        sleep 0.1
    done
    show_log_tail "$LOGS/mailpit.log"
    die "mailpit did not start"
}

mailpit_stop() {
    local pid
    if ! pid="$(mailpit_pid)"; then
        say "mailpit: not running"
        rm -f "$MAILPIT_PIDFILE"
        return 0
    fi
    say "mailpit: stopping"
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 20
    rm -f "$MAILPIT_PIDFILE"
}

# ---------------------------------------------------------------------------- OIDC provider
# NAV's mock-oauth2-server: a standalone OpenID Connect provider (discovery, JWKS, signed ID
# tokens, authorization code with PKCE) where every first path segment is an issuer of its own,
# and its login page lets a test choose the user and the claims of each sign-in
# (oidc/config.json: interactive login). Single sign-on tests sign in against it.
oidc_pom_hash() { sha256sum "$OIDC_POM" | cut -c1-16; }

oidc_jars_present() {
    [[ -f "$OIDC_LIB/.complete" && -f "$OIDC_LIB/mock-oauth2-server-$OIDC_VERSION.jar" ]] &&
        [[ "$(<"$OIDC_LIB/.complete")" == "$(oidc_pom_hash)" ]]
}

install_oidc_jars() {
    oidc_jars_present && return 0
    command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
    local t0=$SECONDS tmp="$OIDC_HOME/lib.partial"
    say "oidc: resolving mock-oauth2-server $OIDC_VERSION jars from Maven Central (first run only)..."
    mkdir -p "$OIDC_HOME" "$LOGS"
    rm -rf "$tmp"
    if ! mvn -q -B -f "$OIDC_POM" -Dmaven.repo.local="$RUN/m2" \
        dependency:copy-dependencies -DincludeScope=runtime -DoutputDirectory="$tmp" \
        >"$LOGS/maven-oidc.log" 2>&1; then
        rm -rf "$tmp"
        show_log_tail "$LOGS/maven-oidc.log"
        die "Maven could not resolve the OIDC provider's jars (full output: $LOGS/maven-oidc.log)"
    fi
    rm -rf "$HERE/oidc/target"
    oidc_pom_hash >"$tmp/.complete"
    rm -rf "$OIDC_LIB"
    mv "$tmp" "$OIDC_LIB"
    say "oidc: $(find "$OIDC_LIB" -name '*.jar' | wc -l) jars in .run/oidc/lib ($((SECONDS - t0))s)"
}

oidc_pid() { alive_pid "$OIDC_PIDFILE" "$OIDC_MAIN"; }

# The discovery document of an issuer answers: the provider is up and serving.
oidc_answers() {
    curl -fsS --max-time 2 "http://$HOST:$1/agencyos/.well-known/openid-configuration" \
        >/dev/null 2>&1
}

oidc_start() {
    local pid i
    if pid="$(oidc_pid)"; then
        say "oidc: already running (pid $pid, http://$HOST:$OIDC_PORT)"
        return 0
    fi
    oidc_jars_present || die "OIDC provider jars missing (run 'stack.sh install')"
    command -v java >/dev/null || die "java not found (apt-get install -y default-jre-headless)"
    if port_open "$OIDC_PORT"; then
        die "port $OIDC_PORT is already in use; stop what holds it or set AGENCYOS_OIDC_PORT"
    fi
    mkdir -p "$LOGS"
    say "oidc: starting on http://$HOST:$OIDC_PORT"
    rm -f "$OIDC_PIDFILE"
    printf '\n===== %s oidc start (stack.sh) =====\n' "$(date '+%F %T')" >>"$LOGS/oidc.log"
    # Loopback only; issuers are http://$HOST:$OIDC_PORT/<id>. As for Kafka: a session of its
    # own, and the wrapper writes its pid before it execs java.
    # shellcheck disable=SC2016  # $$ and $@ belong to the inner shell
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' oidc "$OIDC_PIDFILE" \
        env SERVER_HOSTNAME="$HOST" SERVER_PORT="$OIDC_PORT" JSON_CONFIG_PATH="$OIDC_CONFIG" \
        java -Xms64m -Xmx256m -XX:+UseSerialGC -XX:-UsePerfData -Djava.awt.headless=true \
        -cp "$OIDC_LIB/*" "$OIDC_MAIN" \
        >>"$LOGS/oidc.log" 2>&1 </dev/null 9>&- &
    for ((i = 0; i < OIDC_READY_TIMEOUT * 10; i++)); do
        if oidc_answers "$OIDC_PORT"; then
            printf '%s\n' "$OIDC_PORT" >"$OIDC_HOME/oidc.port"
            return 0
        fi
        if ((i > 20)) && ! oidc_pid >/dev/null; then break; fi
        sleep 0.1
    done
    show_log_tail "$LOGS/oidc.log"
    die "the OIDC provider did not answer its discovery document on $HOST:$OIDC_PORT"
}

oidc_stop() {
    local pid
    if ! pid="$(oidc_pid)"; then
        say "oidc: not running"
        rm -f "$OIDC_PIDFILE"
        return 0
    fi
    say "oidc: stopping (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    wait_gone "$pid" 20
    rm -f "$OIDC_PIDFILE"
}

# ---------------------------------------------------------------------------- commands
take_lock() {
    mkdir -p "$RUN" "$LOGS"
    exec 9>"$RUN/.stack.lock"
    if ! flock -n 9; then
        say "waiting for another stack.sh to finish..."
        flock 9
    fi
}

cmd_up() {
    local t0=$SECONDS
    ensure_venv
    cmd_install
    pg_start
    redis_start
    stripe_mock_start
    mailpit_start
    oidc_start
    kafka_start_process
    bash "$HERE/s3.sh" up
    pg_wait_ready
    pg_bootstrap
    kafka_wait_ready
    say "stack up in $((SECONDS - t0))s: postgres $HOST:$PG_PORT · redis $HOST:$REDIS_PORT · kafka $HOST:$KAFKA_PORT · stripe-mock $HOST:$STRIPE_MOCK_PORT · mailpit smtp $HOST:$SMTP_PORT, api and ui http://$HOST:$MAILPIT_PORT · oidc http://$HOST:$OIDC_PORT"
}

cmd_down() {
    bash "$HERE/s3.sh" down
    kafka_stop
    stripe_mock_stop
    mailpit_stop
    oidc_stop
    redis_stop
    pg_stop
}

cmd_kafka() {
    case "${1:-}" in
        stop) kafka_stop ;;
        start)
            ensure_venv
            install_kafka_jars
            kafka_start_process
            kafka_wait_ready
            ;;
        restart)
            kafka_stop
            cmd_kafka start
            ;;
        *) die "usage: stack.sh kafka start|stop|restart" ;;
    esac
}

cmd_mailpit() {
    case "${1:-}" in
        stop) mailpit_stop ;;
        start)
            mkdir -p "$RUN" "$LOGS"
            install_mailpit
            mailpit_start
            ;;
        restart)
            mailpit_stop
            cmd_mailpit start
            ;;
        *) die "usage: stack.sh mailpit start|stop|restart" ;;
    esac
}

cmd_oidc() {
    case "${1:-}" in
        stop) oidc_stop ;;
        start)
            mkdir -p "$RUN" "$LOGS"
            install_oidc_jars
            oidc_start
            ;;
        restart)
            oidc_stop
            cmd_oidc start
            ;;
        *) die "usage: stack.sh oidc start|stop|restart" ;;
    esac
}

cmd_reset() {
    cmd_down
    say "deleting data: $PG_BASE, $KAFKA_DATA, $REDIS_DIR, mailpit's messages"
    case "$PG_BASE" in
        */agencyos-pg-* | "$RUN/postgres") rm -rf "$PG_BASE" ;;
        *) warn "not deleting unexpected PostgreSQL dir $PG_BASE" ;;
    esac
    if [[ -L "$RUN/postgres" ]]; then rm -f "$RUN/postgres"; fi
    rm -f "$LOGS/postgres.log"
    rm -rf "$KAFKA_DATA" "$KAFKA_HOME/cluster.id" "$KAFKA_HOME/kafka.port" "$KAFKA_CONF"
    rm -rf "$REDIS_DIR"
    rm -f "$MAILPIT_DIR"/mailpit.db*
    rm -rf "$RUN/s3/data"
    say "reset done (Kafka and OIDC provider jars and the go-installed binaries kept)"
}

cmd_status() {
    local pid down=0
    if pg_running; then
        local state=answering
        "$PGBIN/pg_isready" -q -h "$HOST" -p "$(pg_running_port)" || state="not answering"
        printf '%-9s running  pid %-7s %s:%s  %s  data %s\n' postgres "$(pg_pid)" "$HOST" \
            "$(pg_running_port)" "$state" "$PG_DATA"
    else
        printf '%-9s stopped\n' postgres
        down=1
    fi
    if pid="$(redis_pid)"; then
        local rport state=answering
        rport="$(cat "$REDIS_DIR/redis.port" 2>/dev/null || printf '%s' "$REDIS_PORT")"
        redis_ping "$rport" || state="not answering"
        printf '%-9s running  pid %-7s %s:%s  %s\n' redis "$pid" "$HOST" "$rport" "$state"
    else
        printf '%-9s stopped\n' redis
        down=1
    fi
    if pid="$(kafka_pid)"; then
        local kport state="port open"
        kport="$(cat "$KAFKA_HOME/kafka.port" 2>/dev/null || printf '%s' "$KAFKA_PORT")"
        port_open "$kport" || state="port closed"
        printf '%-9s running  pid %-7s %s:%s  %s  data %s\n' kafka "$pid" "$HOST" "$kport" \
            "$state" "$KAFKA_DATA"
    else
        printf '%-9s stopped\n' kafka
        down=1
    fi
    if pid="$(stripe_mock_pid)"; then
        printf '%-9s running  pid %-7s %s:%s\n' stripe-mock "$pid" "$HOST" "$STRIPE_MOCK_PORT"
    else
        printf '%-9s stopped\n' stripe-mock
        down=1
    fi
    if pid="$(mailpit_pid)"; then
        printf '%-9s running  pid %-7s smtp %s:%s  api and ui http://%s:%s\n' mailpit "$pid" \
            "$HOST" "$SMTP_PORT" "$HOST" "$MAILPIT_PORT"
    else
        printf '%-9s stopped\n' mailpit
        down=1
    fi
    if pid="$(oidc_pid)"; then
        local oport state=answering
        oport="$(cat "$OIDC_HOME/oidc.port" 2>/dev/null || printf '%s' "$OIDC_PORT")"
        oidc_answers "$oport" || state="not answering"
        printf '%-9s running  pid %-7s http://%s:%s  %s\n' oidc "$pid" "$HOST" "$oport" "$state"
    else
        printf '%-9s stopped\n' oidc
        down=1
    fi
    bash "$HERE/s3.sh" status || down=1
    return $((down * 3))
}

cmd_env() {
    cat <<EOF
export AGENCYOS_POSTGRES_HOST=$HOST
export AGENCYOS_POSTGRES_PORT=$PG_PORT
export AGENCYOS_KAFKA_BOOTSTRAP=$HOST:$KAFKA_PORT
export AGENCYOS_REDIS_URL=redis://$HOST:$REDIS_PORT/0
export AGENCYOS_STRIPE_API_BASE=http://$HOST:$STRIPE_MOCK_PORT
export AGENCYOS_SMTP_HOST=$HOST
export AGENCYOS_SMTP_PORT=$SMTP_PORT
export AGENCYOS_MAILPIT_URL=http://$HOST:$MAILPIT_PORT
export AGENCYOS_OIDC_URL=http://$HOST:$OIDC_PORT
EOF
    bash "$HERE/s3.sh" env
}

usage() {
    sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'
}

main() {
    local cmd="${1:-}"
    [[ $# -gt 0 ]] && shift
    case "$cmd" in
        install)
            take_lock
            cmd_install
            ;;
        up)
            take_lock
            cmd_up
            ;;
        down)
            take_lock
            cmd_down
            ;;
        kafka)
            take_lock
            cmd_kafka "$@"
            ;;
        mailpit)
            take_lock
            cmd_mailpit "$@"
            ;;
        oidc)
            take_lock
            cmd_oidc "$@"
            ;;
        reset)
            take_lock
            cmd_reset
            ;;
        status) cmd_status ;;
        env) cmd_env ;;
        -h | --help | help) usage ;;
        *)
            usage >&2
            exit 2
            ;;
    esac
}

main "$@"
