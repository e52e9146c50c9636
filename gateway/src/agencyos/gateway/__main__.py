"""`python -m agencyos.gateway`: serve the gateway on its public port and Prometheus metrics on
the metrics port (SIGTERM drains in-flight requests)."""

import asyncio
import contextlib
import signal
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from agencyos.common.logs import configure_logging
from agencyos.common.runtime import run_loop
from agencyos.common.tracing import configure_tracing
from agencyos.gateway.app import build_app, build_metrics_app
from agencyos.gateway.settings import GatewaySettings


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `serve` below stops both servers."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def _server(app: FastAPI, settings: GatewaySettings, port: int) -> _Server:
    return _Server(
        uvicorn.Config(
            app,
            host=settings.http_host,
            port=port,
            log_config=None,
            access_log=False,
            # No `Server: uvicorn` on any answer.
            server_header=False,
            # uvicorn would otherwise rewrite the client address from X-Forwarded-For whenever
            # the peer is 127.0.0.1; the gateway decides whom to believe (`trusted_proxies`).
            proxy_headers=False,
            timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
        )
    )


async def serve(settings: GatewaySettings) -> None:
    servers = [
        _server(build_app(settings), settings, settings.http_port),
        _server(build_metrics_app(), settings, settings.metrics_port),
    ]

    def stop() -> None:
        for server in servers:
            server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    tasks = [asyncio.create_task(server.serve()) for server in servers]
    # One server ending stops the other (a port taken exits the process): never half a gateway.
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    stop()
    await asyncio.gather(*tasks)


def main() -> None:
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level, settings.log_json)
    configure_tracing("gateway", settings.otlp_endpoint, sample_ratio=settings.trace_sample_ratio)
    run_loop(serve(settings), settings)


if __name__ == "__main__":
    main()
