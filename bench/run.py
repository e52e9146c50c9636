"""`make bench`: "create a client, then read it back", measured three ways.

1. gateway  Locust -> gateway -> crm (`POST /v1/clients`, `GET /v1/clients/{id}`)
2. service  Locust -> crm directly (no gateway)
3. floor    pgbench running the same SQL (bench/pgbench_create_read.sql) on crm's database

Same concurrency, duration and warm-up for all three. By default the whole platform is started
for the run (agencyos.testing.platform.Platform: fresh `agencyos_bench_<svc>` databases,
a per-run Kafka topic prefix, every service and the gateway on free ports) and stopped at the
end; `--skip-platform-start` measures an already running `make dev` stack instead (and its
`agencyos_crm` database). Prints one table, writes bench/results/<UTC timestamp>.json, and
exits 1 if a measurement produced no data or more than 1 % errors.

    .venv/bin/python bench/run.py [--users 8] [--seconds 30] [--warmup 5]
    .venv/bin/python bench/run.py --skip-platform-start \\
        --gateway-url http://127.0.0.1:8080 --service-url http://127.0.0.1:8102
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import os
import platform as pyplatform
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version as package_version
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psutil

from agencyos.testing.factories import AgencySession, signup_agency
from agencyos.testing.infra import Infra
from agencyos.testing.platform import Platform

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
RESULTS = BENCH / "results"
LOCUSTFILE = BENCH / "locustfile.py"
PGBENCH_SCRIPT = BENCH / "pgbench_create_read.sql"
FLOW_NAME = "create+read"  # the Locust row bench/locustfile.py reports each flow under
MAX_ERROR_RATE = 0.01
CAPTION = (
    "One flow = POST /v1/clients + GET /v1/clients/{id}. Locust rows: both requests timed\n"
    'together in one Locust task and reported as one "create+read" sample (that row of the\n'
    "Locust stats CSV; Locust rounds latencies to 1 ms, to 10 ms above 100 ms). pgbench row:\n"
    "one script run = the same SQL in one transaction, latencies from its per-transaction log."
)


@dataclass
class Measurement:
    name: str
    tool: str
    target: str
    flows: int = 0
    errors: int = 0
    flows_per_s: float = 0.0
    avg_ms: float | None = None
    p50_ms: float | None = None
    p95_ms: float | None = None
    p99_ms: float | None = None
    max_ms: float | None = None
    duration_s: float = 0.0
    cpu_cores: dict[str, float] = field(default_factory=dict)
    warmup_flows: int = 0
    notes: list[str] = field(default_factory=list)
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def error_rate(self) -> float:
        return self.errors / self.flows if self.flows else 1.0

    @property
    def ok(self) -> bool:
        return self.flows > 0 and self.p95_ms is not None and self.error_rate <= MAX_ERROR_RATE


# --- helpers ---------------------------------------------------------------------------------


def percentile(sorted_values: list[float], pct: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    rank = max(1, math.ceil(pct / 100.0 * len(sorted_values)))
    return sorted_values[rank - 1]


def number(raw: str | None) -> float | None:
    try:
        return float(raw) if raw not in (None, "", "N/A") else None
    except ValueError:
        return None


def command_output(args: list[str]) -> str:
    try:
        return subprocess.run(args, capture_output=True, text=True, cwd=REPO, check=False).stdout
    except OSError:
        return ""


def find_pgbench(explicit: str | None) -> str:
    candidates = [
        explicit,
        str(Path(os.environ.get("AGENCYOS_PGBIN", "/usr/lib/postgresql/15/bin")) / "pgbench"),
        shutil.which("pgbench"),
    ]
    for candidate in candidates:
        if candidate and Path(candidate).is_file() and os.access(candidate, os.X_OK):
            return candidate
    raise SystemExit("pgbench not found: install postgresql-client or pass --pgbench PATH")


def pid_listening_on(url: str) -> int | None:
    """The process listening on `url`'s port (best effort: needs permission to see it)."""
    port = urlsplit(url).port
    try:
        for conn in psutil.net_connections(kind="tcp"):
            if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
                return int(conn.pid) if conn.pid else None
    except (psutil.Error, OSError):
        pass
    return None


async def run_process(
    args: list[str], *, env: dict[str, str] | None, log_path: Path
) -> tuple[int, str]:
    """Run a load generator to completion (output to `log_path`); stop it if cancelled."""
    with log_path.open("wb") as log:
        proc = await asyncio.create_subprocess_exec(
            *args, env=env, cwd=REPO, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            code = await proc.wait()
        except BaseException:
            if proc.returncode is None:
                proc.terminate()
                try:
                    await asyncio.wait_for(proc.wait(), 10)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            raise
    return code, log_path.read_text(errors="replace")


# --- CPU accounting --------------------------------------------------------------------------


def busy_seconds() -> float:
    t = psutil.cpu_times()
    idle = t.idle + getattr(t, "iowait", 0.0)
    guests = getattr(t, "guest", 0.0) + getattr(t, "guest_nice", 0.0)  # already in user/nice
    return float(sum(t) - idle - guests)


def children_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def process_seconds(pid: int) -> float | None:
    try:
        t = psutil.Process(pid).cpu_times()
        return float(t.user + t.system)
    except psutil.Error:
        return None


class CpuProbe:
    """Cores in use during one measurement: the whole machine, each named process, and the
    load generator (this script's waited-for children: Locust or pgbench)."""

    def __init__(self, processes: dict[str, int]) -> None:
        self.processes = processes
        self.start = time.monotonic()
        self.busy = busy_seconds()
        self.children = children_seconds()
        self.own = {name: process_seconds(pid) for name, pid in processes.items()}

    def finish(self) -> dict[str, float]:
        wall = max(time.monotonic() - self.start, 1e-9)
        cores = {"machine": (busy_seconds() - self.busy) / wall}
        cores["load generator"] = (children_seconds() - self.children) / wall
        for name, pid in self.processes.items():
            before, after = self.own[name], process_seconds(pid)
            if before is not None and after is not None:
                cores[name] = (after - before) / wall
        return {k: round(v, 2) for k, v in cores.items()}


# --- Locust ----------------------------------------------------------------------------------


async def locust_run(
    url: str, token: str, users: int, seconds: int, csv_prefix: Path
) -> tuple[dict[str, dict[str, str]], str]:
    env = dict(os.environ, BENCH_HOST=url, BENCH_TOKEN=token)
    args = [
        sys.executable,
        "-m",
        "locust",
        "-f",
        str(LOCUSTFILE),
        "--headless",
        "-u",
        str(users),
        "-r",
        str(users),
        "-t",
        f"{seconds}s",
        "--stop-timeout",
        "10",
        "--host",
        url,
        "--csv",
        str(csv_prefix),
        "--only-summary",
        "--loglevel",
        "WARNING",
    ]
    # Locust exits 1 when any request failed; the CSV says how many, so the code is not used.
    _, output = await run_process(args, env=env, log_path=Path(f"{csv_prefix}.log"))
    stats = Path(f"{csv_prefix}_stats.csv")
    if not stats.is_file():
        raise RuntimeError(f"Locust wrote no stats ({stats}):\n{output[-3000:]}")
    with stats.open(newline="") as handle:
        rows = {row["Name"]: row for row in csv.DictReader(handle)}
    return rows, output


async def measure_http(
    name: str,
    url: str,
    agency: AgencySession,
    args: argparse.Namespace,
    work: Path,
    pids: dict[str, int],
) -> Measurement:
    m = Measurement(name=name, tool="locust", target=url)
    print(f"  {name}: warm-up {args.warmup}s, then {args.seconds}s at {args.users} users")
    if args.warmup > 0:
        warm, _ = await locust_run(
            url, agency.access_token, args.users, args.warmup, work / f"{name}-warmup"
        )
        m.warmup_flows = int(number(warm.get(FLOW_NAME, {}).get("Request Count")) or 0)
    probe = CpuProbe(pids)
    started = time.monotonic()
    rows, output = await locust_run(
        url, agency.access_token, args.users, args.seconds, work / f"{name}"
    )
    m.duration_s = round(time.monotonic() - started, 2)
    m.cpu_cores = probe.finish()
    flow = rows.get(FLOW_NAME)
    if flow is None:
        m.notes.append("Locust reported no create+read flow")
        return m
    m.flows = int(number(flow["Request Count"]) or 0)
    m.errors = int(number(flow["Failure Count"]) or 0)
    m.flows_per_s = number(flow["Requests/s"]) or 0.0
    m.avg_ms = number(flow["Average Response Time"])
    m.p50_ms = number(flow["50%"])
    m.p95_ms = number(flow["95%"])
    m.p99_ms = number(flow["99%"])
    m.max_ms = number(flow["Max Response Time"])
    m.detail["locust_rows"] = {
        row_name: {
            k: row[k]
            for k in ("Type", "Request Count", "Failure Count", "Requests/s", "50%", "95%", "99%")
        }
        for row_name, row in rows.items()
    }
    if "CPU usage above" in output:
        m.notes.append("Locust warned that its own CPU usage was above 90 %")
    failures = Path(f"{work / name}_failures.csv")
    if m.errors and failures.is_file():
        with failures.open(newline="") as handle:
            m.detail["failures"] = list(csv.DictReader(handle))[:10]
    return m


# --- pgbench ---------------------------------------------------------------------------------


def pgbench_args(
    pgbench: str, infra: Infra, database: str, agency: AgencySession, users: int, seconds: int
) -> list[str]:
    return [
        pgbench,
        "-h",
        infra.pg_host,
        "-p",
        str(infra.pg_port),
        "-U",
        infra.app_user,
        "-n",  # no vacuum of the (absent) pgbench_* tables
        "-M",
        "prepared",  # as asyncpg does
        "-c",
        str(users),
        "-j",
        str(max(1, min(users, os.cpu_count() or 1))),
        "-T",
        str(seconds),
        "-f",
        str(PGBENCH_SCRIPT),
        "-D",
        f"tenant={agency.agency_id}",
        "-D",
        f"user={agency.user_id}",
        database,
    ]


def parse_pgbench_log(prefix: Path) -> tuple[list[float], int]:
    """Latencies (ms) of the logged transactions, and how many were logged as failed.

    Log line: client_id transaction_no time script_no time_epoch time_us [...], `time` in us
    (or a word such as `failed` when the transaction did not complete)."""
    latencies: list[float] = []
    failed = 0
    for path in sorted(prefix.parent.glob(prefix.name + ".*")):
        for line in path.read_text().splitlines():
            parts = line.split()
            if len(parts) < 3:
                continue
            if parts[2].isdigit():
                latencies.append(int(parts[2]) / 1000.0)
            elif parts[2] != "skipped":
                failed += 1
    latencies.sort()
    return latencies, failed


async def measure_pgbench(
    pgbench: str,
    infra: Infra,
    database: str,
    agency: AgencySession,
    args: argparse.Namespace,
    work: Path,
    pids: dict[str, int],
) -> Measurement:
    m = Measurement(name="pgbench floor", tool="pgbench", target=f"database {database}")
    print(f"  pgbench floor: warm-up {args.warmup}s, then {args.seconds}s at {args.users} clients")
    env = dict(os.environ, PGPASSWORD=infra.app_password)
    base = pgbench_args(pgbench, infra, database, agency, args.users, args.seconds)
    if args.warmup > 0:
        warm = pgbench_args(pgbench, infra, database, agency, args.users, args.warmup)
        _, output = await run_process(warm, env=env, log_path=work / "pgbench-warmup.log")
        found = re.search(r"number of transactions actually processed: (\d+)", output)
        m.warmup_flows = int(found.group(1)) if found else 0
    prefix = work / "pgbench-tx"
    probe = CpuProbe(pids)
    started = time.monotonic()
    code, output = await run_process(
        [*base, "--log", f"--log-prefix={prefix}"], env=env, log_path=work / "pgbench.log"
    )
    m.duration_s = round(time.monotonic() - started, 2)
    m.cpu_cores = probe.finish()
    m.detail["command"] = " ".join([*base, "--log", f"--log-prefix={prefix}"])
    m.detail["exit_code"] = code
    latencies, logged_failures = parse_pgbench_log(prefix)
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", output)
    failed = re.search(r"number of failed transactions: (\d+)", output)
    aborted = len(re.findall(r"client \d+ aborted", output))
    m.errors = max(int(failed.group(1)) if failed else 0, logged_failures) + aborted
    m.flows = len(latencies) + m.errors
    m.flows_per_s = float(tps.group(1)) if tps else 0.0
    if aborted:
        m.notes.append(f"{aborted} pgbench client(s) aborted: see {work / 'pgbench.log'}")
    if code != 0 or not latencies:
        m.notes.append(f"pgbench exited {code}: {output.strip()[-800:]}")
    if latencies:
        m.avg_ms = round(sum(latencies) / len(latencies), 3)
        m.p50_ms = percentile(latencies, 50)
        m.p95_ms = percentile(latencies, 95)
        m.p99_ms = percentile(latencies, 99)
        m.max_ms = latencies[-1]
    for path in prefix.parent.glob(prefix.name + ".*"):
        path.unlink()  # per-transaction logs are large; the numbers are in the JSON
    return m


# --- the run ---------------------------------------------------------------------------------


async def smoke_test(url: str, agency: AgencySession) -> None:
    """One flow by hand, so a broken setup fails here with a readable message."""
    async with httpx.AsyncClient(base_url=url, headers=agency.headers, timeout=30.0) as client:
        created = await client.post("/v1/clients", json={"company_name": "Bench smoke test"})
        if created.status_code != 201:
            raise RuntimeError(f"POST {url}/v1/clients: {created.status_code} {created.text}")
        read = await client.get(f"/v1/clients/{created.json()['id']}")
        if read.status_code != 200:
            raise RuntimeError(f"GET {url}/v1/clients/{{id}}: {read.status_code} {read.text}")


async def server_version(infra: Infra, database: str) -> str:
    try:
        conn = await infra.raw(database)
        try:
            return str(await conn.fetchval("SHOW server_version"))
        finally:
            await conn.close()
    except Exception as exc:
        return f"unknown ({type(exc).__name__})"


def check_alive(platform: Platform | None) -> None:
    """A platform process that died makes the numbers meaningless: stop with its log."""
    for name, process in (platform.processes if platform else {}).items():
        if process.popen is not None and process.popen.poll() is not None:
            raise RuntimeError(
                f"{name} exited ({process.popen.returncode}) during the run; its log "
                f"{process.log_path} ends:\n{process.log_tail(20)}"
            )


def count_log_problems(platform: Platform) -> dict[str, int]:
    """Warning and error lines in each platform process's (JSON) log, e.g. Kafka trouble."""
    problems: dict[str, int] = {}
    for name, process in platform.processes.items():
        try:
            text = process.log_path.read_text(errors="replace")
        except OSError:
            continue
        count = len(re.findall(r'"level": "(?:warning|error|critical)"', text))
        if count:
            problems[name] = count
    return problems


async def stop_platform(platform: Platform) -> None:
    print("stopping the platform ...", flush=True)
    try:
        await asyncio.wait_for(asyncio.shield(platform.stop()), 60)
    except Exception as exc:  # the processes are stopped first; topic cleanup may fail
        print(f"warning: stopping the platform: {exc!r}", file=sys.stderr)
        for process in platform.processes.values():
            if process.popen is not None and process.popen.poll() is None:
                process.popen.kill()


async def bench(args: argparse.Namespace, stamp: str) -> dict[str, Any]:
    infra = Infra.from_env()
    pgbench = find_pgbench(args.pgbench)
    work = REPO / ".run" / "bench" / stamp
    work.mkdir(parents=True, exist_ok=True)
    platform: Platform | None = None
    wall_start = time.monotonic()
    load_before = os.getloadavg()
    try:
        if args.skip_platform_start:
            gateway_url, service_url = args.gateway_url, args.service_url
            database = args.database or "agencyos_crm"
            pids = {
                name: pid
                for name, pid in (
                    ("gateway", pid_listening_on(gateway_url)),
                    ("crm", pid_listening_on(service_url)),
                )
                if pid is not None
            }
        else:
            platform = Platform(
                infra=infra,
                log_dir=work / "logs",
                db_prefix="agencyos_bench_",
                topic_prefix=f"bench-{uuid.uuid4().hex[:8]}.",
            )
            print(f"starting the platform (logs: {platform.log_dir}) ...", flush=True)
            started = time.monotonic()
            await platform.start()
            print(f"  up in {time.monotonic() - started:.1f}s", flush=True)
            gateway_url, service_url = platform.gateway_url, platform.url("crm")
            database = platform.database("crm")
            pids = {
                name: platform.processes[name].popen.pid  # type: ignore[union-attr]
                for name in ("gateway", "crm", "identity")
            }
        async with httpx.AsyncClient(base_url=gateway_url, timeout=30.0) as client:
            agency = await signup_agency(client, name=f"Bench {stamp}")
        await smoke_test(gateway_url, agency)
        await smoke_test(service_url, agency)
        print("measuring ...", flush=True)
        gateway = await measure_http("gateway", gateway_url, agency, args, work, pids)
        check_alive(platform)
        service = await measure_http("service", service_url, agency, args, work, pids)
        check_alive(platform)
        floor = await measure_pgbench(pgbench, infra, database, agency, args, work, pids)
        check_alive(platform)
        pg_version = await server_version(infra, database)
    finally:
        if platform is not None:
            await stop_platform(platform)
    measurements = [gateway, service, floor]
    log_problems = count_log_problems(platform) if platform is not None else {}
    return {
        "timestamp": stamp,
        "git": {
            "commit": command_output(["git", "rev-parse", "HEAD"]).strip() or None,
            "dirty": bool(command_output(["git", "status", "--porcelain"]).strip()),
        },
        "machine": {
            "cores": os.cpu_count(),
            "platform": pyplatform.platform(),
            "load_average_before": [round(x, 2) for x in load_before],
            "load_average_after": [round(x, 2) for x in os.getloadavg()],
        },
        "parameters": {
            "users": args.users,
            "seconds": args.seconds,
            "warmup_seconds": args.warmup,
            "mode": "existing stack" if args.skip_platform_start else "platform started",
            "gateway_url": gateway_url,
            "service_url": service_url,
            "database": database,
            "pgbench_script": str(PGBENCH_SCRIPT.relative_to(REPO)),
            "max_error_rate": MAX_ERROR_RATE,
        },
        "tools": {
            "python": pyplatform.python_version(),
            "locust": package_version("locust"),
            "pgbench": command_output([pgbench, "--version"]).strip(),
            "postgresql": pg_version,
        },
        "flow": FLOW_NAME,
        "caption": CAPTION,
        "measurements": [
            {**asdict(m), "error_rate": round(m.error_rate, 5), "ok": m.ok} for m in measurements
        ],
        "ratios": ratios(gateway, service, floor),
        "platform_log_problems": log_problems,
        "work_dir": str(work),
        "wall_seconds": round(time.monotonic() - wall_start, 1),
    }


def ratio(a: float | None, b: float | None) -> float | None:
    return round(a / b, 3) if a and b else None


def ratios(gateway: Measurement, service: Measurement, floor: Measurement) -> dict[str, Any]:
    return {
        "gateway/service": {
            "flows_per_s": ratio(gateway.flows_per_s, service.flows_per_s),
            "p95": ratio(gateway.p95_ms, service.p95_ms),
        },
        "service/floor": {
            "flows_per_s": ratio(service.flows_per_s, floor.flows_per_s),
            "p95": ratio(service.p95_ms, floor.p95_ms),
        },
    }


# --- output ----------------------------------------------------------------------------------


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def render(result: dict[str, Any]) -> str:
    p = result["parameters"]
    lines = [
        "",
        f"AgencyOS bench {result['timestamp']}  ({p['mode']}; {p['users']} concurrent "
        f"users/clients, {p['seconds']} s each after {p['warmup_seconds']} s warm-up; "
        f"{result['machine']['cores']} cores)",
        *result["caption"].splitlines(),
        "",
        f"{'':16} {'flows/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'flows':>8} {'errors':>12}",
    ]
    for m in result["measurements"]:
        errors = f"{m['errors']} ({100 * m['error_rate']:.2f}%)" if m["flows"] else "no data"
        digits = 2 if m["tool"] == "pgbench" else 0
        lines.append(
            f"{m['name']:16} {m['flows_per_s']:9.1f} {fmt(m['p50_ms'], digits):>8} "
            f"{fmt(m['p95_ms'], digits):>8} {fmt(m['p99_ms'], digits):>8} "
            f"{m['flows']:8d} {errors:>12}"
        )
    lines.append("")
    for label, pair in result["ratios"].items():
        rps, p95 = pair["flows_per_s"], pair["p95"]
        lines.append(f"{label:16} flows/s x{fmt(rps, 3)}   p95 x{fmt(p95, 2)}")
    lines += [
        "",
        "CPU in use during each measurement: cores (CPU ms per flow); 'machine' is everything",
    ]
    for m in result["measurements"]:
        rate = m["flows_per_s"]
        cores = "  ".join(
            f"{k} {v:.2f}"
            + (f" ({1000 * v / rate:.1f})" if rate and v >= 0.05 and k != "machine" else "")
            for k, v in m["cpu_cores"].items()
        )
        lines.append(f"  {m['name']:16} {cores}")
    notes = [f"{m['name']}: {n}" for m in result["measurements"] for n in m["notes"]]
    for name, count in result.get("platform_log_problems", {}).items():
        notes.append(f"{name} logged {count} warnings/errors during the run (see its log)")
    busy = result["machine"]["load_average_before"][0]
    if busy > (result["machine"]["cores"] or 1):
        notes.append(f"the machine was already busy before the run (load average {busy})")
    lines += [f"note: {n}" for n in notes]
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Benchmark create+read of a client: gateway vs crm vs pgbench floor."
    )
    parser.add_argument("--users", type=int, default=8, help="concurrent users / clients")
    parser.add_argument("--seconds", type=int, default=30, help="length of each measurement")
    parser.add_argument("--warmup", type=int, default=5, help="warm-up seconds before each")
    parser.add_argument(
        "--skip-platform-start",
        action="store_true",
        help="measure an already running stack (make dev) instead of starting one",
    )
    parser.add_argument("--gateway-url", default="http://127.0.0.1:8080")
    parser.add_argument("--service-url", default="http://127.0.0.1:8102", help="crm's HTTP URL")
    parser.add_argument(
        "--database",
        help="crm database for the floor (default: agencyos_crm with "
        "--skip-platform-start, else the bench database)",
    )
    parser.add_argument("--pgbench", help="pgbench executable (default: PostgreSQL 15's)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.users < 1 or args.seconds < 1 or args.warmup < 0:
        parser.error("--users and --seconds must be positive, --warmup not negative")
    return args


async def main_async(args: argparse.Namespace, stamp: str) -> dict[str, Any]:
    task = asyncio.current_task()
    assert task is not None
    loop = asyncio.get_running_loop()
    signalled: list[int] = []

    def on_signal(signum: int) -> None:
        # The first Ctrl-C / SIGTERM cancels the run (whose `finally` stops the platform);
        # later ones must not interrupt that cleanup. Installed even when the parent shell
        # ignores SIGINT, because the platform's processes do not ignore it.
        if not signalled:
            print(f"\n{signal.Signals(signum).name}: stopping ...", file=sys.stderr, flush=True)
            task.cancel()
        signalled.append(signum)

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    return await bench(args, stamp)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    try:
        result = asyncio.run(main_async(args, stamp))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("\ninterrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        print(f"bench failed: {exc}", file=sys.stderr)
        print(f"logs: {REPO / '.run' / 'bench' / stamp}", file=sys.stderr)
        return 1
    print(render(result))
    args.results_dir.mkdir(parents=True, exist_ok=True)
    out = args.results_dir / f"{stamp}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\nresult: {out}")
    bad = [m for m in result["measurements"] if not m["ok"]]
    for m in bad:
        why = "no data" if not m["flows"] else f"{100 * m['error_rate']:.2f}% errors"
        print(f"FAILED: {m['name']}: {why} (limit {100 * MAX_ERROR_RATE:.0f}%)", file=sys.stderr)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
