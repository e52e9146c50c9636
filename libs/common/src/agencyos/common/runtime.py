"""`python -m agencyos.<service> <mode>`: one entry point for every service process.

Modes: `api`, `rpc`, `relay`, `consumer`, `worker` (the service's background workers, e.g.
crm's import runner), `all` (all of these together) and `migrate`, plus any one-shot commands a
service adds (`ServiceDefinition.commands`, e.g. identity's `rotate-signing-key`) and any HTTP
server it runs apart (`ServiceDefinition.servers`, e.g. notification's `stream`: its app alone,
on the service's HTTP port; `all` leaves it out, the service's own app serving those routes too).
SIGTERM/SIGINT stop intake first, let in-flight work finish within the grace period, then exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
from collections.abc import Callable, Coroutine, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import grpc
import uvicorn
from fastapi import FastAPI

from agencyos.common.actor_context import parse_networks
from agencyos.common.consumer import ConsumerRunner, Subscription
from agencyos.common.logs import configure_logging, get_logger
from agencyos.common.migrations import upgrade_head
from agencyos.common.outbox import OutboxRelay
from agencyos.common.rpc import Registrar, close_channels, start_grpc_server
from agencyos.common.settings import ServiceSettings, refuse_development_defaults
from agencyos.common.tracing import configure_tracing
from agencyos.common.web import ServiceContext, drain

log = get_logger(__name__)

MODES = ("api", "rpc", "relay", "consumer", "worker", "all", "migrate")

# A one-shot operational command: runs with the service's settings, then the process exits.
Command = Callable[[ServiceSettings], Coroutine[Any, Any, None]]


class Worker(Protocol):
    """A long-running background loop (like the relay): `run` until `stop` is called, then
    finish the work in hand within the shutdown grace period."""

    async def run(self) -> None: ...

    def stop(self) -> None: ...


WorkerFactory = Callable[[ServiceContext], Worker]


@dataclass
class ServiceDefinition:
    """Everything the runtime needs to know about one service."""

    name: str
    settings_factory: Callable[[], ServiceSettings]
    create_app: Callable[[ServiceContext], FastAPI]
    service_dir: Path
    grpc_registrar: Callable[[ServiceContext], Registrar] | None = None
    subscription: Subscription | None = None
    has_outbox: bool = True
    # Extra modes by name (must not reuse a built-in mode's name).
    commands: dict[str, Command] = field(default_factory=dict)
    # Background workers by name, run in modes `worker` and `all`.
    workers: dict[str, WorkerFactory] = field(default_factory=dict)
    # HTTP servers deployable apart, by mode name: `python -m agencyos.<svc> <name>` serves
    # that app alone on the HTTP port (its own pods, scaled and timed out on their own).
    servers: dict[str, Callable[[ServiceContext], FastAPI]] = field(default_factory=dict)


def _no_servicers(server: grpc.aio.Server) -> Sequence[str]:
    return []


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the runtime owns shutdown."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _run(definition: ServiceDefinition, mode: str, settings: ServiceSettings) -> None:
    ctx = ServiceContext(definition.name, settings)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)

    tasks: list[asyncio.Task[Any]] = []
    stoppers: list[Callable[[], Any]] = []
    grpc_server = None
    wants = {"api", "rpc", "relay", "consumer", "worker"} if mode == "all" else {mode}

    if "rpc" in wants:
        # Every service serves gRPC health checking and reflection, with or without
        # servicers of its own, so probes and tooling treat all services alike.
        registrar = definition.grpc_registrar(ctx) if definition.grpc_registrar else _no_servicers
        grpc_server = await start_grpc_server(
            definition.name,
            ctx.verifier,
            registrar,
            settings.http_host,
            settings.grpc_port,
            revocations=ctx.revocations,
            database=ctx.db,
            service_credential=settings.service_credential,
            trusted_peers=parse_networks(settings.trusted_peer_networks),
        )
        log.info("grpc serving", port=settings.grpc_port)
    if "relay" in wants and definition.has_outbox:
        relay = OutboxRelay(
            definition.name,
            ctx.database(),
            settings.kafka_bootstrap,
            poll_seconds=settings.relay_poll_seconds,
            batch_size=settings.relay_batch_size,
            topic_prefix=settings.kafka_topic_prefix,
        )
        tasks.append(asyncio.create_task(relay.run(), name="relay"))
        stoppers.append(relay.stop)
    if "consumer" in wants and definition.subscription is not None:
        runner = ConsumerRunner(
            definition.name,
            ctx.database(),
            settings.kafka_bootstrap,
            definition.subscription,
            max_attempts=settings.consumer_max_attempts,
            retry_backoff_seconds=settings.consumer_retry_backoff_seconds,
            topic_prefix=settings.kafka_topic_prefix,
        )
        tasks.append(asyncio.create_task(runner.run(), name="consumer"))
        stoppers.append(runner.stop)
    if "worker" in wants:
        for worker_name, make_worker in definition.workers.items():
            worker = make_worker(ctx)
            tasks.append(asyncio.create_task(worker.run(), name=f"worker:{worker_name}"))
            stoppers.append(worker.stop)
    server_app = definition.servers.get(mode)
    if "api" in wants or server_app is not None:
        app = server_app(ctx) if server_app is not None else definition.create_app(ctx)
        config = uvicorn.Config(
            app,
            host=settings.http_host,
            port=settings.http_port,
            log_config=None,
            access_log=False,
            # No `Server: uvicorn` on any answer.
            server_header=False,
            # The peer is the socket's: uvicorn would otherwise rewrite it from
            # X-Forwarded-For whenever it is 127.0.0.1. The client's address comes from the
            # gateway's header, believed from trusted peers only (actor_context).
            proxy_headers=False,
            timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
            # Longer than the gateway's idle-connection expiry (30 s), so the gateway always
            # drops an idle connection before the service does (no reuse-after-close race).
            timeout_keep_alive=75,
        )
        server = _Server(config)
        tasks.append(asyncio.create_task(server.serve(), name="api"))

        def stop_serving(app: FastAPI = app, server: _Server = server) -> None:
            drain(app)  # long-lived responses end now, not at the grace period's end
            server.should_exit = True

        stoppers.append(stop_serving)
        log.info("http serving", port=settings.http_port)

    waiter = asyncio.create_task(stop.wait(), name="stop")
    done, _ = await asyncio.wait([waiter, *tasks], return_when=asyncio.FIRST_COMPLETED)
    # a task that ended by itself ended wrongly: with an error, or cancelled from inside
    crashed = [t for t in done if t is not waiter and (t.cancelled() or t.exception() is not None)]
    log.info("shutting down", reason="crash" if crashed else "signal")
    for stopper in stoppers:
        stopper()
    if grpc_server is not None:
        await grpc_server.stop(settings.shutdown_grace_seconds)
    _, pending = await asyncio.wait(tasks, timeout=settings.shutdown_grace_seconds + 5)
    for task in pending:
        task.cancel()
    waiter.cancel()
    await close_channels()
    if "api" not in wants and server_app is None:
        await ctx.close()
    if crashed:
        first = crashed[0]
        why = "it was cancelled" if first.cancelled() else repr(first.exception())
        raise SystemExit(f"{definition.name}: {first.get_name()} failed: {why}")


def run_loop(main_coroutine: Coroutine[Any, Any, None], settings: ServiceSettings) -> None:
    """Run the process's main coroutine on the event loop its settings name."""
    if settings.event_loop == "uvloop":
        import uvloop

        uvloop.run(main_coroutine)
    else:
        asyncio.run(main_coroutine)


def main(definition: ServiceDefinition, argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog=f"python -m agencyos.{definition.name}")
    clashing = (set(MODES) | set(definition.servers)) & set(definition.commands)
    clashing |= set(MODES) & set(definition.servers)
    if clashing:
        raise ValueError(f"{definition.name}: modes named twice: {sorted(clashing)}")
    parser.add_argument(
        "mode",
        choices=(*MODES, *definition.servers, *definition.commands),
        nargs="?",
        default="all",
    )
    args = parser.parse_args(argv)
    settings = definition.settings_factory()
    configure_logging(definition.name, settings.log_level, settings.log_json)
    refuse_development_defaults(settings)
    if args.mode in definition.commands:
        run_loop(definition.commands[args.mode](settings), settings)
        return
    if args.mode == "migrate":
        upgrade_head(
            definition.service_dir, settings.migration_database_url, settings.database_app_user
        )
        log.info("migrated", database=settings.database_name)
        return
    configure_tracing(
        definition.name, settings.otlp_endpoint, sample_ratio=settings.trace_sample_ratio
    )
    run_loop(_run(definition, args.mode, settings), settings)
