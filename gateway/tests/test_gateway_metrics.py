"""What the gateway tells Prometheus beyond requests: requests it could not forward, by route
prefix and reason, and how late its event loop runs."""

from __future__ import annotations

import asyncio
import time

import httpx
from prometheus_client import REGISTRY

from agencyos.gateway.app import build_app
from agencyos.testing.infra import free_port

from . import edge
from .conftest import Upstream


def _sample(name: str, labels: dict[str, str]) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def test_a_request_to_an_unreachable_service_counts_as_an_upstream_error(
    upstream: Upstream, jwks_url: str, token: str
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"
    app = build_app(edge.edge_settings(upstream, jwks_url, crm_url=closed))
    labels = {"upstream": "/v1/clients", "reason": "unreachable"}
    before = _sample("agencyos_gateway_upstream_errors_total", labels)

    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
            response = await client.get("/v1/clients", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 503, response.text
    assert _sample("agencyos_gateway_upstream_errors_total", labels) == before + 1


async def test_a_blocked_event_loop_shows_as_lag(gateway_app: object) -> None:
    labels = {"service": "gateway"}
    count = _sample("agencyos_event_loop_lag_seconds_count", labels)
    total = _sample("agencyos_event_loop_lag_seconds_sum", labels)

    await asyncio.sleep(0.1)  # the watcher is running, its timer due within half a second
    time.sleep(1.0)  # nothing else runs: that timer fires at least half a second late
    await asyncio.sleep(0.1)

    assert _sample("agencyos_event_loop_lag_seconds_count", labels) > count
    assert _sample("agencyos_event_loop_lag_seconds_sum", labels) - total >= 0.4
