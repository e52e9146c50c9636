"""The timeline and revenue written from billing's invoice events, consumed from Kafka. Client
updates and deletion, contacts and the timeline's own rules are tested in the in-process
tier."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx

from agencyos.common.events import InvoicePaid, InvoiceSent, build_event
from agencyos.testing.factories import AgencySession
from agencyos.testing.kafka import events_where, read_to_end, topic_writer
from agencyos.testing.platform import Platform


async def create_client(gateway: httpx.AsyncClient, who: AgencySession, **fields: Any) -> Any:
    body = {"company_name": f"Client {uuid.uuid4().hex[:8]}", **fields}
    response = await gateway.post("/v1/clients", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def timeline(
    gateway: httpx.AsyncClient, who: AgencySession, client_id: str, query: str = ""
) -> Any:
    response = await gateway.get(f"/v1/clients/{client_id}/timeline{query}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


class TestInvoiceEvents:
    async def test_sent_and_paid_invoices_reach_the_timeline_and_revenue_once(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client = await create_client(gateway, agency, currency="EUR")
        client_id = uuid.UUID(client["id"])
        invoice_id = uuid.uuid4()
        sent = build_event(
            InvoiceSent(
                invoice_id=invoice_id,
                client_id=client_id,
                number="INV-0042",
                total_cents=123_456,
                currency="EUR",
                due_date=datetime.now(UTC).date(),
            ),
            tenant_id=agency.agency_id,
            source_service="billing",
        )
        paid = build_event(
            InvoicePaid(
                invoice_id=invoice_id,
                client_id=client_id,
                number="INV-0042",
                total_cents=123_456,
                amount_cents=123_456,
                currency="EUR",
                paid_at=datetime.now(UTC),
            ),
            tenant_id=agency.agency_id,
            source_service="billing",
        )
        topic = f"{platform.topic_prefix}billing.events"
        async with topic_writer(platform.infra.kafka_bootstrap) as writer:
            await writer.send_event(topic, sent)
            await writer.send_event(topic, paid)
            await writer.send_event(topic, paid)  # delivered twice: counted once

        deadline = asyncio.get_running_loop().time() + 20
        while True:
            page = await timeline(gateway, agency, client["id"])
            if page["total"] >= 2 or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)

        assert sorted(e["kind"] for e in page["items"]) == ["invoice_paid", "invoice_sent"]
        assert any("EUR 1,234.56" in e["title"] for e in page["items"])
        stored = await gateway.get(f"/v1/clients/{client['id']}", headers=agency.headers)
        assert stored.json()["total_revenue_cents"] == 123_456

    async def test_an_invoice_for_a_client_crm_does_not_have_is_skipped_not_dead_lettered(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        mine = await create_client(gateway, agency, currency="EUR")
        theirs = await create_client(gateway, other_agency, currency="EUR")

        def sent(client_id: str, number: str) -> Any:
            return build_event(
                InvoiceSent(
                    invoice_id=uuid.uuid4(),
                    client_id=uuid.UUID(client_id),
                    number=number,
                    total_cents=5_000,
                    currency="EUR",
                    due_date=datetime.now(UTC).date(),
                ),
                tenant_id=agency.agency_id,
                source_service="billing",
            )

        gone = sent(str(uuid.uuid4()), "INV-0001")  # a client since deleted, say
        foreign = sent(theirs["id"], "INV-0002")  # another agency's client, under this agency
        later = sent(mine["id"], "INV-0003")
        topic = f"{platform.topic_prefix}billing.events"
        async with topic_writer(platform.infra.kafka_bootstrap) as writer:
            for event in (gone, foreign, later):
                await writer.send_event(topic, event)  # one tenant: one partition, in order

        deadline = asyncio.get_running_loop().time() + 20
        while (await timeline(gateway, agency, mine["id"]))["total"] < 1:
            assert asyncio.get_running_loop().time() < deadline, "the later event never arrived"
            await asyncio.sleep(0.2)

        dead = await read_to_end(platform.infra.kafka_bootstrap, f"{topic}.dlq")
        dead_ids = {e["id"] for e in events_where(dead)}
        assert {str(gone.id), str(foreign.id)} & dead_ids == set()
        assert (await timeline(gateway, other_agency, theirs["id"]))["total"] == 0
        stored = await gateway.get(f"/v1/clients/{theirs['id']}", headers=other_agency.headers)
        assert stored.json()["total_revenue_cents"] == 0
