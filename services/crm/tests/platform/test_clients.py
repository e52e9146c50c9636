"""CRM clients against the running crm service where processes matter: what the gateway passes
through, and the client-created event as it reaches Kafka. The service's own rules are tested
in the in-process tier."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import AgencySession
from agencyos.testing.http import assert_invalid_fields
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import Platform


@pytest.fixture
async def crm(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("crm"), timeout=30.0) as client:
        yield client


async def create_client(
    client: httpx.AsyncClient, who: AgencySession, **fields: Any
) -> dict[str, Any]:
    body = {"company_name": f"Client {uuid.uuid4().hex[:8]}", **fields}
    response = await client.post("/v1/clients", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


class TestCreateAndGet:
    async def test_the_gateway_serves_the_same_client(
        self, crm: httpx.AsyncClient, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await create_client(gateway, agency)

        direct = await crm.get(f"/v1/clients/{created['id']}", headers=agency.headers)

        assert direct.status_code == 200, direct.text
        assert direct.json() == created


class TestListPagination:
    async def test_the_gateway_passes_the_paging_limit_through(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.get(
            "/v1/clients", params={"per_page": 201}, headers=agency.headers
        )

        assert_invalid_fields(response, "query.per_page")


class TestValidation:
    async def test_bad_input_through_the_gateway_is_the_same_problem(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
            "/v1/clients", json={"company_name": ""}, headers=agency.headers
        )

        assert_invalid_fields(response, "company_name")


class TestClientCreatedEvent:
    async def test_creating_a_client_publishes_one_cloudevent_keyed_by_the_tenant(
        self, platform: Platform, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await create_client(crm, agency, status="active")
        # Same tenant → same partition → its event comes after ours: once it is on the topic,
        # any duplicate of ours would be too.
        later = await create_client(crm, agency)
        topic = f"{platform.topic_prefix}crm.events"
        tenant = str(agency.agency_id)

        def later_arrived(records: list[Any]) -> bool:
            return any(
                e["data"].get("client_id") == later["id"]
                for e in events_where(records, tenantid=tenant)
            )

        records = await read_topic(platform.infra.kafka_bootstrap, topic, later_arrived)

        ours = [
            r
            for r in records
            if (e := events_where([r], tenantid=tenant))
            and e[0]["data"].get("client_id") == created["id"]
        ]
        assert len(ours) == 1
        assert ours[0].key == tenant.encode()
        event = events_where(ours)[0]
        uuid.UUID(event["id"])
        assert event["specversion"] == "1.0"
        assert event["type"] == "crm.client.created"
        assert event["source"] == "/agencyos/crm"
        assert event["tenantid"] == tenant
        assert event["subject"] == f"clients/{created['id']}"
        assert event["dataschema"] == "https://agencyos.dev/schemas/events/crm.client.created/v1"
        assert event["time"]
        assert event["data"] == {
            "client_id": created["id"],
            "company_name": created["company_name"],
            "status": "active",
            "owner_id": str(agency.user_id),
            "created_by": str(agency.user_id),
        }
