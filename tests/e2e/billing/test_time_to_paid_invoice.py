"""The agency's core loop, driven only through the gateway (and Stripe's signed webhook):
a member logs time → submits the week → the owner approves it → a draft invoice is built
from the approved time with the right lines and totals → sending numbers it and opens a
Stripe Checkout Session (stripe-mock) → Stripe's signed `checkout.session.completed` makes it
paid → `billing.invoice.paid` on Kafka once, the entries are invoiced, CRM counts the revenue.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from agencyos.testing.billing import invoice_events, wait_for_invoice_event
from agencyos.testing.factories import (
    AgencySession,
    add_member,
    new_project,
    signup_agency,
)
from agencyos.testing.infra import wait_for
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_value
from agencyos.testing.stripe_webhooks import (
    signed_request,
    stripe_event,
    stripe_id,
    stripe_object,
)

pytestmark = pytest.mark.e2e

RATE_CENTS = 12_000  # 120.00 an hour
TAX_BPS = 2_000  # 20 %


async def ok(response: httpx.Response, status: int = 200) -> dict:
    assert response.status_code == status, response.text
    return response.json()


class TestTrackedTimeBecomesAPaidInvoice:
    async def test_the_whole_loop(self, platform: Platform, gateway: httpx.AsyncClient) -> None:
        owner: AgencySession = await signup_agency(gateway, name="Northwind Studio")
        await ok(
            await gateway.patch(
                "/v1/agency",
                json={"currency": "EUR", "default_tax_rate_bps": TAX_BPS},
                headers=owner.headers,
            )
        )
        member = await add_member(platform, gateway, owner, "member")
        client = await ok(
            await gateway.post(
                "/v1/clients",
                json={"company_name": "Acme Corp", "currency": "EUR"},
                headers=owner.headers,
            ),
            201,
        )
        project = await new_project(
            gateway,
            owner,
            member,
            client_id=client["id"],
            hourly_rate_cents=RATE_CENTS,
            currency="EUR",
        )

        # Last week's Tuesday: 09:00-11:00 and 13:00-13:45 UTC (the agency's timezone).
        today = datetime.now(UTC).date()
        tuesday = today - timedelta(days=today.weekday() + 7) + timedelta(days=1)
        day_start = datetime(tuesday.year, tuesday.month, tuesday.day, tzinfo=UTC)
        for start, minutes in ((9 * 60, 120), (13 * 60, 45)):
            started = day_start + timedelta(minutes=start)
            await ok(
                await gateway.post(
                    "/v1/time-entries",
                    json={
                        "project_id": str(project["id"]),
                        "started_at": started.isoformat(),
                        "ended_at": (started + timedelta(minutes=minutes)).isoformat(),
                        "description": "Homepage design",
                    },
                    headers=member.headers,
                ),
                201,
            )

        week = f"{tuesday.isocalendar().year}-W{tuesday.isocalendar().week:02d}"
        sheet = await ok(await gateway.get(f"/v1/timesheets?week={week}", headers=member.headers))
        assert sheet["totals"]["billable_seconds"] == 2 * 3600 + 45 * 60
        await ok(await gateway.post(f"/v1/timesheets/{sheet['id']}/submit", headers=member.headers))
        await ok(await gateway.post(f"/v1/timesheets/{sheet['id']}/approve", headers=owner.headers))

        # 9,900 s at 120.00/h = 330.00; 20 % tax = 66.00; total 396.00
        draft = await ok(
            await gateway.post(
                "/v1/invoices",
                json={"client_id": client["id"], "include": ["time"], "group_by": "member"},
                headers=owner.headers,
            ),
            201,
        )
        assert draft["status"] == "draft"
        assert draft["currency"] == "EUR"
        assert [(line["amount_cents"], line["tax_cents"]) for line in draft["lines"]] == [
            (33_000, 6_600)
        ]
        assert (draft["subtotal_cents"], draft["tax_cents"], draft["total_cents"]) == (
            33_000,
            6_600,
            39_600,
        )

        sent = await ok(
            await gateway.post(f"/v1/invoices/{draft['id']}/send", headers=owner.headers)
        )
        assert sent["status"] == "sent"
        assert sent["number"] == "INV-0001"
        assert sent["payment_url"].startswith("https://")
        invoice_id = uuid.UUID(sent["id"])
        entries = await ok(
            await gateway.get(f"/v1/time-entries?user_id={member.user_id}", headers=owner.headers)
        )
        assert {e["status"] for e in entries["items"]} == {"invoiced"}
        assert {e["invoice_id"] for e in entries["items"]} == {str(invoice_id)}

        # Stripe reports the Checkout payment, signed with the webhook secret.
        session_id = await fetch_value(
            platform.infra,
            platform.database("billing"),
            "SELECT stripe_checkout_session_id FROM invoices WHERE id = $1",
            invoice_id,
            tenant_id=owner.agency_id,
        )
        session = await stripe_object(platform.stripe_api_base, "checkout/sessions")
        session.update(
            id=session_id,
            mode="payment",
            status="complete",
            payment_status="paid",
            payment_intent=stripe_id("pi"),
            amount_subtotal=39_600,
            amount_total=39_600,
            currency="eur",
            client_reference_id=str(invoice_id),
            metadata={"invoice_id": str(invoice_id), "tenant_id": str(owner.agency_id)},
        )
        event = stripe_event("checkout.session.completed", session)
        body, headers = signed_request(event, platform.stripe_webhook_secret)
        for _ in range(2):  # Stripe may deliver an event more than once
            delivered = await gateway.post("/v1/webhooks/stripe", content=body, headers=headers)
            assert delivered.status_code == 200, delivered.text

        paid = await ok(await gateway.get(f"/v1/invoices/{invoice_id}", headers=owner.headers))
        assert paid["status"] == "paid"
        assert paid["amount_paid_cents"] == 39_600
        records = await wait_for_invoice_event(platform, "billing.invoice.paid", invoice_id)
        [paid_event] = invoice_events(records, "billing.invoice.paid", invoice_id)
        assert paid_event["data"]["amount_cents"] == 39_600
        assert paid_event["data"]["number"] == "INV-0001"

        async def revenue() -> int | None:
            found = await ok(
                await gateway.get(f"/v1/clients/{client['id']}", headers=owner.headers)
            )
            return found["total_revenue_cents"] or None

        assert await wait_for(revenue) == 39_600
