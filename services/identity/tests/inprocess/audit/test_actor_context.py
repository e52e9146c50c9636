"""The request's actor context on identity's events and sessions: the client's address from
the gateway's `x-agencyos-client-ip`, believed from trusted peers (loopback here) only; a caller
who reaches identity directly from elsewhere cannot forge it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import PASSWORD, AgencySession
from agencyos.testing.inprocess import ServiceInProcess

Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]


@pytest.fixture
async def from_outside(identity_service: ServiceInProcess) -> AsyncIterator[httpx.AsyncClient]:
    """identity reached straight from an untrusted address (not through the gateway)."""
    transport = httpx.ASGITransport(app=identity_service.app, client=("203.0.113.66", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://identity") as client:
        yield client


async def create_key(client: httpx.AsyncClient, who: AgencySession, **headers: str) -> None:
    response = await client.post(
        "/v1/api-keys",
        headers={**who.headers, **headers},
        json={"name": "ctx", "role": "member"},
    )
    assert response.status_code == 201, response.text


class TestEventsCarryTheActorContext:
    async def test_the_gateways_client_address_user_agent_and_request_id(
        self, identity: httpx.AsyncClient, agency: AgencySession, outbox: Outbox
    ) -> None:
        await create_key(
            identity,
            agency,
            **{
                "x-agencyos-client-ip": "198.51.100.44",
                "user-agent": "Agent/1.0 " + "x" * 1000,
                "x-request-id": "req-from-gateway-1",
            },
        )

        (event,) = [
            e
            for e in await outbox("audit.recorded", agency.agency_id)
            if e["data"]["action"] != "auth.email_verified"  # the factory verified the owner
        ]
        assert event["actorip"] == "198.51.100.44"
        assert event["actoragent"] == ("Agent/1.0 " + "x" * 1000)[:512]
        assert event["requestid"] == "req-from-gateway-1"

    async def test_a_direct_caller_cannot_forge_its_address(
        self, from_outside: httpx.AsyncClient, agency: AgencySession, outbox: Outbox
    ) -> None:
        await create_key(from_outside, agency, **{"x-agencyos-client-ip": "10.1.2.3"})

        (event,) = [
            e
            for e in await outbox("audit.recorded", agency.agency_id)
            if e["data"]["action"] != "auth.email_verified"  # the factory verified the owner
        ]
        assert event["actorip"] == "203.0.113.66"

    async def test_a_header_that_is_no_address_is_ignored(
        self, identity: httpx.AsyncClient, agency: AgencySession, outbox: Outbox
    ) -> None:
        await create_key(identity, agency, **{"x-agencyos-client-ip": "not-an-ip<script>"})

        (event,) = [
            e
            for e in await outbox("audit.recorded", agency.agency_id)
            if e["data"]["action"] != "auth.email_verified"  # the factory verified the owner
        ]
        assert event["actorip"] == "127.0.0.1"


class TestSessionsShowTheClientsAddress:
    async def test_a_login_through_the_gateway_records_the_clients_address(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        login = await identity.post(
            "/v1/auth/login",
            headers={"x-agencyos-client-ip": "2001:db8::7", "user-agent": "Phone/2"},
            json={"email": agency.email, "password": PASSWORD},
        )
        assert login.status_code == 200, login.text

        sessions = await identity.get(
            "/v1/sessions",
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        )

        assert sessions.status_code == 200, sessions.text
        current = [s for s in sessions.json()["items"] if s["user_agent"] == "Phone/2"]
        assert [s["ip_address"] for s in current] == ["2001:db8::7"]

    async def test_a_direct_login_records_the_peer_not_the_header(
        self, from_outside: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        login = await from_outside.post(
            "/v1/auth/login",
            headers={"x-agencyos-client-ip": "10.1.2.3", "user-agent": "Forger/1"},
            json={"email": agency.email, "password": PASSWORD},
        )
        assert login.status_code == 200, login.text

        sessions = await from_outside.get(
            "/v1/sessions",
            headers={"Authorization": f"Bearer {login.json()['access_token']}"},
        )

        current = [s for s in sessions.json()["items"] if s["user_agent"] == "Forger/1"]
        assert [s["ip_address"] for s in current] == ["203.0.113.66"]
