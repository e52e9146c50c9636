"""The portal's Pay: a client user gets a new Stripe Checkout page (stripe-mock) for all its
invoice still owes, which replaces the invoice's page; Stripe's signed webhook for it pays the
invoice; nothing owed is a failed precondition; the page opened is in the audit log."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.common.errors import PreconditionFailed
from agencyos.testing.audit_records import audit_records
from agencyos.testing.inprocess import ServiceInProcess
from agencyos.testing.stripe_webhooks import signed_request, stripe_event, stripe_id, stripe_object

from .conftest import Scene
from .test_servicer import pay_by_hand


async def page_of(scene: Scene, invoice_id: str) -> tuple[str, str]:
    [row] = await scene.x.books.billing_rows(
        "SELECT stripe_checkout_session_id, payment_url FROM invoices WHERE id = $1",
        uuid.UUID(invoice_id),
    )
    return row["stripe_checkout_session_id"], row["payment_url"]


async def completed(settings: Any, session_id: str, invoice_id: str, amount: int) -> dict[str, Any]:
    session = await stripe_object(settings.stripe_api_base, "checkout/sessions")
    session.update(
        id=session_id,
        mode="payment",
        status="complete",
        payment_status="paid",
        payment_intent=stripe_id("pi"),
        amount_subtotal=amount,
        amount_total=amount,
        currency="eur",
        client_reference_id=invoice_id,
        metadata={},
    )
    return stripe_event("checkout.session.completed", session)


class TestPay:
    async def test_a_client_user_gets_a_new_page_for_what_is_still_owed(
        self, billing: httpx.AsyncClient, billing_service: ServiceInProcess, scene: Scene
    ) -> None:
        invoice_id = scene.x.invoice["id"]
        await pay_by_hand(billing, scene, invoice_id, 4_000)
        before, _ = await page_of(scene, invoice_id)

        checkout = await scene.billing.create_checkout(
            await scene.principal(scene.x.user), uuid.UUID(invoice_id)
        )

        assert (checkout.amount_cents, checkout.currency) == (11_000, "EUR")
        assert checkout.url.startswith("https://")
        session_id, url = await page_of(scene, invoice_id)
        assert session_id != before
        assert url == checkout.url
        # the new session is known to the webhook as this invoice's
        rows = await scene.x.books.billing_rows(
            "SELECT invoice_id FROM stripe_references WHERE stripe_id = $1", session_id
        )
        assert [r["invoice_id"] for r in rows] == [uuid.UUID(invoice_id)]
        [record] = await audit_records(
            billing_service, action="invoice.payment_page_opened", tenant_id=scene.tenant.id
        )
        assert (record.actor_type, record.actor_id) == ("user", str(scene.x.user.user_id))
        assert (record.entity_type, record.entity_id) == ("invoice", invoice_id)
        assert record.detail["amount_cents"] == 11_000

    async def test_each_pay_makes_a_fresh_page(self, scene: Scene) -> None:
        who = await scene.principal(scene.x.user)
        invoice_id = uuid.UUID(scene.x.invoice["id"])

        await scene.billing.create_checkout(who, invoice_id)
        first, _ = await page_of(scene, str(invoice_id))
        await scene.billing.create_checkout(who, invoice_id)
        second, _ = await page_of(scene, str(invoice_id))

        # (stripe-mock answers one fixed URL for every session; the sessions differ)
        assert first != second

    async def test_stripes_webhook_for_the_page_pays_the_invoice(
        self, billing: httpx.AsyncClient, billing_service: ServiceInProcess, scene: Scene
    ) -> None:
        invoice_id = scene.x.invoice["id"]
        who = await scene.principal(scene.x.user)
        await scene.billing.create_checkout(who, uuid.UUID(invoice_id))
        session_id, _ = await page_of(scene, invoice_id)
        event = await completed(billing_service.settings, session_id, invoice_id, 15_000)
        body, headers = signed_request(
            event,
            billing_service.settings.stripe_webhook_secret,  # type: ignore[attr-defined]
        )

        delivered = await billing.post("/v1/webhooks/stripe", content=body, headers=headers)

        assert delivered.status_code == 200, delivered.text
        invoice = await scene.billing.client_invoice(who, uuid.UUID(invoice_id))
        assert (invoice.status, invoice.amount_due_cents, invoice.payable) == ("paid", 0, False)
        assert invoice.paid_at is not None
        assert [p.method for p in invoice.payments] == ["stripe"]

    async def test_a_paid_invoice_has_nothing_to_pay(
        self, billing: httpx.AsyncClient, scene: Scene
    ) -> None:
        invoice_id = scene.x.invoice["id"]
        await pay_by_hand(billing, scene, invoice_id, 15_000)
        before = await page_of(scene, invoice_id)

        with pytest.raises(PreconditionFailed):
            await scene.billing.create_checkout(
                await scene.principal(scene.x.user), uuid.UUID(invoice_id)
            )

        assert await page_of(scene, invoice_id) == before
