"""Sending invoices through the real gateway, billing, time, identity, CRM and stripe-mock:
gapless numbers under fifty concurrent sends, retried through the gateway as a careful client
would. (The rules of sending and numbering: the in-process tier,
inprocess/invoice/test_issuing.py.)"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from agencyos.testing.factories import AgencySession
from agencyos.testing.invoicing import Books, new_books
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows


async def counter(platform: Platform, agency: AgencySession) -> int | None:
    rows = await fetch_rows(
        platform.infra,
        platform.database("billing"),
        "SELECT last_number FROM invoice_number_counters",
        tenant_id=agency.agency_id,
    )
    return rows[0]["last_number"] if rows else None


async def send_until_answered(books: Books, invoice_id: str) -> dict[str, Any]:
    """Send as a careful client would: a 503 (the gateway could not reach billing under this
    load) or no answer within the client's timeout (fifty sends queue on the agency's number;
    on two loaded cores the last ones can wait longer than 30 s) is retried, and a retry that
    finds the invoice already sent reads it. Retries must not cost numbers either, which the
    callers check."""
    for _ in range(5):
        try:
            response = await books.send(invoice_id)
        except httpx.ReadTimeout:
            continue  # the send may still complete: the retry finds it sent (409) or sends it
        if response.status_code == 200:
            invoice: dict[str, Any] = response.json()
            return invoice
        if response.status_code == 409:
            current = await books.gateway.get(
                f"/v1/invoices/{invoice_id}", headers=books.agency.headers
            )
            assert current.json()["status"] == "sent", current.text
            invoice = current.json()
            return invoice
        assert response.status_code == 503, response.text
        await asyncio.sleep(0.5)
    raise AssertionError(f"sending {invoice_id} kept failing")


class TestNumbering:
    async def test_fifty_concurrent_sends_get_numbers_1_to_50_without_gaps(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        books = await new_books(platform, gateway, agency)
        drafts = await asyncio.gather(*(books.manual_draft(100 + i) for i in range(50)))
        sent = await asyncio.gather(*(send_until_answered(books, d["id"]) for d in drafts))

        numbers = sorted(invoice["number"] for invoice in sent)
        assert numbers == [f"INV-{n:04d}" for n in range(1, 51)]
        assert await counter(platform, agency) == 50
        sessions = {invoice["id"]: invoice["payment_url"] for invoice in sent}
        assert all(url and url.startswith("https://") for url in sessions.values())
        references = await books.billing_rows(
            "SELECT stripe_id, invoice_id, tenant_id FROM stripe_references WHERE tenant_id = $1",
            agency.agency_id,
        )
        assert sorted(str(r["invoice_id"]) for r in references) == sorted(sessions)
        customers = await books.billing_rows("SELECT stripe_customer_id FROM stripe_customers")
        assert len(customers) == 1  # one Stripe customer for the client, however many sends
