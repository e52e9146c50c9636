"""Run every AgencyOS service locally in one terminal (the supervisor behind ``make dev``).

    .venv/bin/python deploy/local/run_services.py [--only identity,crm,gateway]

1. runs ``python -m agencyos.<svc> migrate`` for each selected service, one after another,
   stopping at the first failure and showing its output;
2. starts ``python -m agencyos.<svc> all`` for each service and ``python -m agencyos.gateway``,
   writing each process's combined stdout/stderr line by line to ``.run/logs/<name>.log`` and
   to the console behind a coloured ``<name> |`` prefix;
3. polls every ``http://127.0.0.1:<port>/healthz`` until all answer 200 (60 s budget), then
   prints where the gateway and the logs are.

Ctrl-C / SIGTERM: SIGTERM to every child, up to 15 s grace, SIGKILL for stragglers, exit 0
(a second Ctrl-C kills at once). A child that exits on its own is reported with its exit code
and last log lines, everything else is stopped, and the exit status is 1.

The infrastructure (PostgreSQL, Redis, Kafka, stripe-mock, mailpit, the S3 server) is not
started here: ``deploy/local/stack.sh up``. work's files bucket is created here, in the local
S3 server, before the services start. Notification sends email to the stack's mailpit (SMTP on
``AGENCYOS_SMTP_HOST``:``AGENCYOS_SMTP_PORT``, 127.0.0.1:1025 by default), whose web UI and
REST API (``AGENCYOS_MAILPIT_PORT``, 8025) the banner points to; links in emails lead to the
gateway.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shlex
import signal
import sys
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from agencyos.common.services import GATEWAY, GATEWAY_METRICS_PORT, GATEWAY_PORT, SERVICE_PORTS
from agencyos.common.settings import ServiceSettings

REPO = Path(__file__).resolve().parents[2]
LOGS = REPO / ".run" / "logs"
PYTHON = REPO / ".venv" / "bin" / "python"

# name -> default HTTP port
SERVICES: dict[str, int] = {name: http for name, (http, _) in SERVICE_PORTS.items()}
ALL_NAMES: tuple[str, ...] = (*SERVICES, GATEWAY)

STOP_GRACE_S = 15.0
HEALTH_BUDGET_S = 60.0
TAIL_LINES = 30
LINE_LIMIT = 1 << 20
COLOURS = (36, 32, 33, 35, 34, 96, 92, 93, 95)


def use_colour() -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    return bool(os.environ.get("FORCE_COLOR")) or sys.stdout.isatty()


COLOUR = use_colour()


def paint(text: str, code: int) -> str:
    return f"\033[{code}m{text}\033[0m" if COLOUR else text


def say(message: str) -> None:
    print(f"{paint('[dev]', 1)} {message}", flush=True)


def env_port(name: str, default: int) -> int:
    raw = os.environ.get(f"AGENCYOS_{name.upper()}_HTTP_PORT")
    return int(raw) if raw else default


def env_host(name: str) -> str:
    host = os.environ.get(f"AGENCYOS_{name.upper()}_HTTP_HOST", "127.0.0.1")
    # A wildcard listen address is reachable on loopback.
    return "127.0.0.1" if host in ("", "0.0.0.0", "::", "[::]") else host


@dataclass
class Child:
    name: str
    argv: list[str]
    migrate: bool
    host: str
    port: int
    prefix: str
    tail: deque[str] = field(default_factory=lambda: deque(maxlen=TAIL_LINES))
    process: asyncio.subprocess.Process | None = None
    pump: asyncio.Task[None] | None = None
    log: TextIO | None = None

    @property
    def log_path(self) -> Path:
        return LOGS / f"{self.name}.log"

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def open_log(self) -> TextIO:
        if self.log is None:
            LOGS.mkdir(parents=True, exist_ok=True)
            self.log = self.log_path.open("w", encoding="utf-8", buffering=1)
        return self.log

    def emit(self, line: str) -> None:
        self.tail.append(line)
        if self.log is not None:
            self.log.write(line + "\n")
        sys.stdout.write(f"{self.prefix}{line}\n")
        sys.stdout.flush()


def smtp_address() -> tuple[str, int]:
    """The stack's SMTP server (mailpit), as stack.sh starts it."""
    return (
        os.environ.get("AGENCYOS_SMTP_HOST", "127.0.0.1"),
        int(os.environ.get("AGENCYOS_SMTP_PORT", "1025")),
    )


def mailpit_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('AGENCYOS_MAILPIT_PORT', '8025')}"


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    host, port = smtp_address()
    env.setdefault("AGENCYOS_NOTIFICATION_SMTP_HOST", host)
    env.setdefault("AGENCYOS_NOTIFICATION_SMTP_PORT", str(port))
    # One service credential for every service (identity checks what the others send).
    env.setdefault(
        "AGENCYOS_SERVICE_CREDENTIAL", ServiceSettings.model_fields["service_credential"].default
    )
    env.setdefault(
        "AGENCYOS_NOTIFICATION_PUBLIC_BASE_URL",
        f"http://{env_host(GATEWAY)}:{env_port(GATEWAY, GATEWAY_PORT)}",
    )
    # Webhooks to a receiver on this machine (http://127.0.0.1:...): allowed here only;
    # production refuses to start with either setting.
    env.setdefault("AGENCYOS_NOTIFICATION_WEBHOOK_ALLOW_HTTP", "true")
    env.setdefault(
        "AGENCYOS_NOTIFICATION_WEBHOOK_ALLOWED_PRIVATE_NETWORKS", '["127.0.0.0/8", "::1/128"]'
    )
    # Single sign-on against a provider on this machine (the stack's OIDC provider on
    # http://127.0.0.1:18080); production refuses to start with either setting.
    env.setdefault("AGENCYOS_IDENTITY_SSO_ALLOW_HTTP", "true")
    env.setdefault("AGENCYOS_IDENTITY_SSO_ALLOWED_PRIVATE_NETWORKS", '["127.0.0.0/8", "::1/128"]')
    env.setdefault(
        "AGENCYOS_IDENTITY_PUBLIC_BASE_URL",
        f"http://{env_host(GATEWAY)}:{env_port(GATEWAY, GATEWAY_PORT)}",
    )
    return env


async def pump_lines(child: Child, stream: asyncio.StreamReader) -> None:
    while True:
        try:
            raw = await stream.readline()
        except ValueError:  # a single line longer than LINE_LIMIT: asyncio dropped it
            child.emit("[run_services: over-long output line dropped]")
            continue
        if not raw:
            return
        child.emit(raw.decode("utf-8", errors="replace").rstrip("\r\n"))


async def spawn(child: Child, argv: Sequence[str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        *argv,
        cwd=REPO,
        env=child_env(),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        limit=LINE_LIMIT,
        # Own process group: a terminal Ctrl-C reaches only the supervisor, which then stops
        # the children in order (and their own subprocesses, via the group).
        start_new_session=True,
    )


def signal_group(process: asyncio.subprocess.Process, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, sig)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


async def ensure_files_bucket() -> None:
    """work's bucket in the local S3 server (deploy/local/s3.sh), made by our own code: the
    settings work itself runs with (AGENCYOS_WORK_S3_* / AGENCYOS_S3_*)."""
    from agencyos.common.files import file_storage
    from agencyos.work.settings import WorkSettings

    settings = WorkSettings()
    try:
        await file_storage(settings).ensure_bucket()
    except Exception as exc:  # a dev convenience: say why and go on (uploads will fail)
        say(f"could not create the files bucket {settings.s3_bucket!r}: {exc}")
        return
    say(f"files bucket {settings.s3_bucket!r} ready at {settings.s3_endpoint_url or 'AWS S3'}")


async def run_migration(child: Child, stop: asyncio.Event) -> bool | None:
    """Run ``migrate``; True ok, False failed (output shown), None interrupted."""
    argv = [str(PYTHON), "-m", f"agencyos.{child.name}", "migrate"]
    started = time.monotonic()
    output: list[str] = []
    child.open_log().write(f"===== {time.strftime('%F %T')} {shlex.join(argv)}\n")
    process = await spawn(child, argv)
    assert process.stdout is not None

    async def collect(stream: asyncio.StreamReader) -> None:
        async for raw in stream:
            line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
            output.append(line)
            if child.log is not None:
                child.log.write(line + "\n")

    reader = asyncio.create_task(collect(process.stdout))
    waiter = asyncio.create_task(process.wait())
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({waiter, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if not waiter.done():
        signal_group(process, signal.SIGTERM)
        try:
            await asyncio.wait_for(waiter, STOP_GRACE_S)
        except TimeoutError:
            signal_group(process, signal.SIGKILL)
            await waiter
        reader.cancel()
        return None
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(reader, 5)
    code = waiter.result()
    if code == 0:
        say(f"migrated {child.name} ({time.monotonic() - started:.1f}s)")
        return True
    say(paint(f"migration of {child.name} failed ({describe_exit(code)}):", 31))
    for line in output:
        print(f"{child.prefix}{line}", flush=True)
    say(f"command: {shlex.join(argv)}  (output also in {child.log_path})")
    say("is the infrastructure up?  bash deploy/local/stack.sh status")
    return False


async def start_child(child: Child) -> None:
    child.open_log().write(f"===== {time.strftime('%F %T')} {shlex.join(child.argv)}\n")
    child.process = await spawn(child, child.argv)
    assert child.process.stdout is not None
    child.pump = asyncio.create_task(pump_lines(child, child.process.stdout))


async def wait_exit(child: Child) -> int:
    assert child.process is not None
    code = await child.process.wait()
    if child.pump is not None:  # let the last lines reach the console before reporting
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(child.pump), 2)
    return code


async def http_status(host: str, port: int, path: str = "/healthz") -> int | None:
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), 2)
    except (OSError, TimeoutError):
        return None
    try:
        request = f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n"
        writer.write(request.encode("ascii"))
        await writer.drain()
        status_line = await asyncio.wait_for(reader.readline(), 3)
    except (OSError, TimeoutError):
        return None
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()
    parts = status_line.split()
    if len(parts) >= 2 and parts[1].isdigit():
        return int(parts[1])
    return None


async def wait_healthy(children: Sequence[Child], budget: float) -> list[Child]:
    """Poll /healthz until every child answers 200; return the ones that never did."""
    started = time.monotonic()
    pending = list(children)
    while pending and time.monotonic() - started < budget:
        statuses = await asyncio.gather(*(http_status(c.host, c.port) for c in pending))
        for child, status in zip(pending, statuses, strict=True):
            if status == 200:
                say(f"{child.name} healthy at {child.url} ({time.monotonic() - started:.1f}s)")
        pending = [c for c, s in zip(pending, statuses, strict=True) if s != 200]
        if pending:
            await asyncio.sleep(0.5)
    return pending


def banner(children: Sequence[Child]) -> None:
    line = "=" * 72
    gateway = next((c for c in children if c.name == GATEWAY), None)
    print(paint(line, 32), flush=True)
    if gateway is not None:
        say(paint(f"AgencyOS is up: {gateway.url}", 1))
        # The gateway's /metrics is on its own port, never on the public one.
        metrics_port = os.environ.get("AGENCYOS_GATEWAY_METRICS_PORT", str(GATEWAY_METRICS_PORT))
        say(f"metrics:  http://127.0.0.1:{metrics_port}/metrics (gateway)")
    else:
        say(paint("AgencyOS services are up (no gateway selected)", 1))
    services = "  ".join(f"{c.name} :{c.port}" for c in children if c.name != GATEWAY)
    if services:
        say(f"services: {services}")
    host, port = smtp_address()
    say(f"email:    mailpit UI and API {mailpit_url()} (SMTP {host}:{port})")
    say(f"logs:     {LOGS}/<name>.log")
    say("stop:     Ctrl-C")
    print(paint(line, 32), flush=True)


async def shutdown(children: Sequence[Child], force: asyncio.Event) -> None:
    running = [c for c in children if c.process is not None and c.process.returncode is None]
    if running:
        say(f"stopping {', '.join(c.name for c in running)} (SIGTERM, {STOP_GRACE_S:.0f}s grace)")
    for child in running:
        assert child.process is not None
        signal_group(child.process, signal.SIGTERM)
    waits = [asyncio.create_task(c.process.wait()) for c in running if c.process is not None]
    if waits:
        all_exited: asyncio.Task[Any] = asyncio.create_task(asyncio.wait(waits))
        forcer: asyncio.Task[Any] = asyncio.create_task(force.wait())
        await asyncio.wait(
            {all_exited, forcer}, timeout=STOP_GRACE_S, return_when=asyncio.FIRST_COMPLETED
        )
        all_exited.cancel()
        forcer.cancel()
    for child in running:
        assert child.process is not None
        if child.process.returncode is None:
            say(f"{child.name} did not stop in time: SIGKILL")
            signal_group(child.process, signal.SIGKILL)
    for task in waits:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 5)
    for child in children:
        if child.process is not None:  # stray grandchildren keep the group; end them too
            signal_group(child.process, signal.SIGKILL)
        if child.pump is not None:
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(child.pump, 2)
        if child.log is not None:
            child.log.close()
            child.log = None


def build_children(only: Sequence[str], overrides: dict[str, str]) -> list[Child]:
    width = max(len(name) for name in only)
    children: list[Child] = []
    for index, name in enumerate(only):
        if name in overrides:
            argv = shlex.split(overrides[name])
        elif name == GATEWAY:
            argv = [str(PYTHON), "-m", "agencyos.gateway"]
        else:
            argv = [str(PYTHON), "-m", f"agencyos.{name}", "all"]
        default_port = GATEWAY_PORT if name == GATEWAY else SERVICES[name]
        prefix = paint(f"{name:<{width}} |", COLOURS[index % len(COLOURS)]) + " "
        children.append(
            Child(
                name=name,
                argv=argv,
                migrate=name != GATEWAY and name not in overrides,
                host=env_host(name),
                port=env_port(name, default_port),
                prefix=prefix,
            )
        )
    return children


async def supervise(children: list[Child]) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    force = asyncio.Event()

    def on_signal(sig: signal.Signals) -> None:
        if not stop.is_set():
            say(f"{sig.name} received, shutting down (again to kill at once)")
            stop.set()
        else:
            force.set()

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal, sig)

    try:
        for child in children:
            if not child.migrate:
                continue
            result = await run_migration(child, stop)
            if result is None:
                return 0
            if not result:
                return 1

        if any(c.name == "work" for c in children):
            await ensure_files_bucket()
        for child in children:
            await start_child(child)
        say(f"started {', '.join(c.name for c in children)}; waiting for /healthz ...")

        exits: dict[asyncio.Task[Any], Child] = {
            asyncio.create_task(wait_exit(c)): c for c in children
        }
        health = asyncio.create_task(wait_healthy(children, HEALTH_BUDGET_S))
        stopper = asyncio.create_task(stop.wait())
        pending: set[asyncio.Task[Any]] = {*exits, health, stopper}
        exit_code = 0
        try:
            while True:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if stopper in done:
                    break
                exited = [exits[t] for t in done if t in exits]
                if exited:
                    for child in exited:
                        assert child.process is not None
                        report_exit(child)
                    exit_code = 1
                    break
                if health in done:
                    unhealthy = health.result()
                    if unhealthy:
                        for child in unhealthy:
                            report_unhealthy(child)
                        exit_code = 1
                        break
                    banner(children)
        finally:
            for task in (*exits, health, stopper):
                task.cancel()
        return exit_code
    finally:
        await shutdown(children, force)


def report_exit(child: Child) -> None:
    assert child.process is not None
    say(paint(f"{child.name} exited unexpectedly ({describe_exit(child.process.returncode)})", 31))
    print_tail(child)


def report_unhealthy(child: Child) -> None:
    say(paint(f"{child.name}: no 200 from {child.url}/healthz within {HEALTH_BUDGET_S:.0f}s", 31))
    print_tail(child)


def print_tail(child: Child) -> None:
    if child.tail:
        say(f"last lines of {child.name} (full log: {child.log_path}):")
        for line in child.tail:
            print(f"    {line}", flush=True)
    else:
        say(f"{child.name} wrote no output (log: {child.log_path})")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Run the AgencyOS services and gateway locally (make dev)."
    )
    parser.add_argument(
        "--only",
        default="",
        help=f"comma-separated subset of: {','.join(ALL_NAMES)} (default: all)",
    )
    # Hidden, for testing the supervisor itself: replace a process's command (no migration).
    parser.add_argument(
        "--command", action="append", default=[], metavar="NAME=CMD", help=argparse.SUPPRESS
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    only = [n.strip() for n in args.only.split(",") if n.strip()] or list(ALL_NAMES)
    unknown = [n for n in only if n not in ALL_NAMES]
    if unknown:
        print(f"unknown name(s): {', '.join(unknown)}; choose from {', '.join(ALL_NAMES)}")
        return 2
    only = [n for n in ALL_NAMES if n in only]  # canonical order, no duplicates
    overrides: dict[str, str] = {}
    for item in args.command:
        name, sep, command = item.partition("=")
        if not sep or name not in ALL_NAMES or not command.strip():
            print(f"--command expects NAME=CMD with NAME in {', '.join(ALL_NAMES)}: {item!r}")
            return 2
        overrides[name] = command
    if not PYTHON.exists() and len(overrides) < len(only):
        print(f"{PYTHON} not found: run `make install` (uv sync) first")
        return 2
    return asyncio.run(supervise(build_children(only, overrides)))


if __name__ == "__main__":
    sys.exit(main())
