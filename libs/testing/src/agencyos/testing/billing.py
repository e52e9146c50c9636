"""Looking at billing from tests: an invoice's row and payments as stored, and the billing
events on the run's `billing.events` topic for one invoice."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx

from agencyos.testing.factories import AgencySession, seed_invoice
from agencyos.testing.kafka import Record, events_where, read_topic
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows


async def invoice_row(
    platform: Platform, agency: AgencySession, invoice_id: uuid.UUID
) -> asyncpg.Record:
    [row] = await fetch_rows(
        platform.infra,
        platform.database("billing"),
        "SELECT * FROM invoices WHERE id = $1",
        invoice_id,
        tenant_id=agency.agency_id,
    )
    return row


async def payment_rows(
    platform: Platform, agency: AgencySession, invoice_id: uuid.UUID
) -> list[asyncpg.Record]:
    return await fetch_rows(
        platform.infra,
        platform.database("billing"),
        "SELECT * FROM payments WHERE invoice_id = $1 ORDER BY created_at, amount_cents DESC",
        invoice_id,
        tenant_id=agency.agency_id,
    )


def billing_topic(platform: Platform) -> str:
    return f"{platform.topic_prefix}billing.events"


def invoice_events(
    records: list[Record], event_type: str, invoice_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The `event_type` events about one invoice, in the order they were published."""
    return events_where(records, type=event_type, subject=f"invoices/{invoice_id}")


async def read_billing_events(
    platform: Platform,
    until: Callable[[list[Record]], bool],
    *,
    timeout: float = 30.0,
) -> list[Record]:
    """Every record on the run's billing topic, read until `until` holds."""
    return await read_topic(
        platform.infra.kafka_bootstrap, billing_topic(platform), until, timeout=timeout
    )


async def wait_for_invoice_event(
    platform: Platform,
    event_type: str,
    invoice_id: uuid.UUID,
    *,
    count: int = 1,
    timeout: float = 30.0,
) -> list[Record]:
    """Read billing's topic until `count` `event_type` events about the invoice are on it."""
    return await read_billing_events(
        platform,
        lambda records: len(invoice_events(records, event_type, invoice_id)) >= count,
        timeout=timeout,
    )


async def settled_billing_events(
    platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
) -> list[Record]:
    """Billing's topic once everything the agency's earlier requests published is on it: a
    sentinel payment is recorded afterwards, and the outbox relay publishes in order onto
    the agency's partition, so once the sentinel's event is read, so is everything before it
    (and a duplicate published by then would show)."""
    sentinel = await seed_invoice(platform, agency, total_cents=100)
    response = await gateway.post(
        f"/v1/invoices/{sentinel}/payments",
        json={"amount_cents": 1, "method": "other", "reference": "sentinel"},
        headers=agency.headers,
    )
    assert response.status_code == 201, response.text
    return await wait_for_invoice_event(platform, "billing.payment.recorded", sentinel)
