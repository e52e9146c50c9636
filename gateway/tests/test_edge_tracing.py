"""The gateway starts every trace itself: whatever trace context or baggage a client sends
(a trace to join, a sampling decision to force, an automation depth to claim) goes no further
than the gateway. In process, against a real upstream HTTP server; the services' side of the
trace (continuing the gateway's context) is in agencyos.common's tracing tests."""

from __future__ import annotations

import httpx
import pytest

from agencyos.common.tracing import AUTOMATION_DEPTH_BAGGAGE
from agencyos.testing.spans import span_recorder

from .conftest import Upstream

FORGED_TRACE = "0af7651916cd43dd8448eb211c80319c"
FORGED = {
    "traceparent": f"00-{FORGED_TRACE}-b7ad6b7169203331-01",
    "tracestate": "vendor=forged",
    "baggage": f"{AUTOMATION_DEPTH_BAGGAGE}=999",
}


@pytest.fixture(autouse=True)
def tracing() -> None:
    """A tracer provider in this process, so the gateway has a trace context of its own to
    send on (without one, the API would carry whatever context it was given)."""
    span_recorder()


@pytest.mark.parametrize("route", ["/v1/clients", "/v1/auth/login"])
async def test_a_clients_trace_context_and_baggage_are_not_forwarded(
    client: httpx.AsyncClient, upstream: Upstream, token: str, route: str
) -> None:
    headers = {**FORGED, "Authorization": f"Bearer {token}"}
    if route.startswith("/v1/auth"):
        response = await client.post(route, json={"email": "a@example.com"}, headers=headers)
    else:
        response = await client.get(route, headers=headers)

    assert response.status_code == 200, response.text
    sent = upstream.received[-1].headers
    assert not [value for _, value in sent if FORGED_TRACE in value]
    assert not [v for _, v in sent if "forged" in v or AUTOMATION_DEPTH_BAGGAGE in v]
    names = [name for name, _ in sent]
    assert "baggage" not in names
    assert "tracestate" not in names
    # Its own context, once.
    assert names.count("traceparent") == 1
