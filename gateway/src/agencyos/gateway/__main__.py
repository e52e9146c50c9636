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
        # uvicorn would otherwise rewrite the client address from X-Forwarded-For whenever the
        # peer is 127.0.0.1; the gateway decides whom to believe (`trusted_proxies`).
        proxy_headers=False,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds),
    )


if __name__ == "__main__":
    main()
