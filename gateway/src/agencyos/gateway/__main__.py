"""`python -m agencyos.gateway`: serve the gateway (SIGTERM drains in-flight requests)."""

import uvicorn

from agencyos.common.logs import configure_logging
from agencyos.common.tracing import configure_tracing
from agencyos.gateway.app import build_app
from agencyos.gateway.settings import GatewaySettings


def main() -> None:
    settings = GatewaySettings()
    configure_logging("gateway", settings.log_level, settings.log_json)
    configure_tracing("gateway", settings.otlp_endpoint)
    uvicorn.run(
        build_app(settings),
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )


if __name__ == "__main__":
    main()
