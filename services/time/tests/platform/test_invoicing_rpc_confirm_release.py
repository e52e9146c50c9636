"""Time's invoicing after reserving, where Kafka is the point: a `billing.invoice.voided` event
releases the invoice's time (another agency's event naming the same invoice id touches
nothing, a redelivery has no second effect). Confirming, releasing by call and who may call:
the in-process tier (`tests/inprocess/invoicing/`)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from agencyos.common.events import InvoiceVoided, build_event
from agencyos.protos.time.v1 import time_pb2, time_pb2_grpc
from agencyos.testing.factories import AgencySession
from agencyos.testing.kafka import topic_writer
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_value
from agencyos.testing.time_invoicing import DAY, Books, as_caller, reserve


class TestVoidedInvoices:
    async def test_a_voided_invoice_on_kafka_releases_its_time(
        self,
        platform: Platform,
        stub: time_pb2_grpc.TimeServiceStub,
        books: Books,
        other_agency: AgencySession,
    ) -> None:
        entries = [await books.entry(), await books.entry(day=DAY + timedelta(1))]
        invoice = uuid.uuid4()
        await reserve(stub, books, invoice)
        await stub.ConfirmInvoiced(
            time_pb2.InvoiceRef(invoice_id=str(invoice)), metadata=as_caller(books.agency)
        )

        def voided(tenant: uuid.UUID) -> Any:
            return build_event(
                InvoiceVoided(
                    invoice_id=invoice,
                    client_id=books.client_id,
                    number="INV-0001",
                    reason="sent to the wrong client",
                    voided_at=datetime.now(UTC),
                ),
                tenant_id=tenant,
                source_service="billing",
                subject=f"invoices/{invoice}",
            )

        # another agency's void naming this invoice id touches nothing of this agency
        stray, real = voided(other_agency.agency_id), voided(books.agency.agency_id)
        topic = f"{platform.topic_prefix}billing.events"
        async with topic_writer(platform.infra.kafka_bootstrap) as writer:
            await writer.send_event(topic, stray)
            await wait_for_inbox(platform, other_agency.agency_id, stray.id)
            assert set((await books.holders(entries)).values()) == {invoice}
            await writer.send_event(topic, real)
            # a redelivery of the same event has no second effect
            await writer.send_event(topic, real)
            await wait_for_inbox(platform, books.agency.agency_id, real.id)

        rows = await books.rows(
            "SELECT status, invoice_id FROM time_entries WHERE id = ANY($1)", entries
        )
        assert [tuple(r) for r in rows] == [("approved", None)] * 2
        trail = await books.rows(
            "SELECT actor_id FROM time_entry_changes WHERE action = 'released' "
            "AND entry_id = ANY($1)",
            entries,
        )
        assert [r["actor_id"] for r in trail] == [None, None]


async def wait_for_inbox(
    platform: Platform, tenant_id: uuid.UUID, event_id: uuid.UUID, timeout: float = 30.0
) -> None:
    """Until time's consumer has handled the event (its id is in the inbox)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        handled = await fetch_value(
            platform.infra,
            platform.database("time"),
            "SELECT count(*) FROM inbox WHERE event_id = $1",
            event_id,
            tenant_id=tenant_id,
        )
        if handled:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"time did not handle event {event_id} within {timeout}s")
        await asyncio.sleep(0.2)
