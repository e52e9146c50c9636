"""Stripe's webhook through the real gateway: the gateway routes it to billing without a token
and passes the body through byte for byte, so the signature made with the run's secret still
verifies. (The webhook's own rules, signature, payments, refunds and what is ignored, are
billing's in-process tier.)"""

from __future__ import annotations

import httpx

from agencyos.testing.billing import invoice_row
from agencyos.testing.factories import AgencySession, seed_invoice
from agencyos.testing.platform import Platform
from agencyos.testing.stripe_webhooks import signed_request, stripe_event, stripe_id, stripe_object


class TestThroughTheGateway:
    async def test_a_correctly_signed_event_is_accepted_without_a_token(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        session_id = stripe_id("cs")
        invoice_id = await seed_invoice(
            platform,
            agency,
            total_cents=120_000,
            checkout_session_id=session_id,
            payment_url=f"https://checkout.stripe.com/c/pay/{session_id}",
        )
        session = await stripe_object(platform.stripe_api_base, "checkout/sessions")
        session.update(
            id=session_id,
            mode="payment",
            status="complete",
            payment_status="paid",
            payment_intent=stripe_id("pi"),
            amount_subtotal=120_000,
            amount_total=120_000,
            currency="eur",
            client_reference_id=str(invoice_id),
            metadata={"invoice_id": str(invoice_id), "tenant_id": str(agency.agency_id)},
        )
        event = stripe_event("checkout.session.completed", session)
        body, headers = signed_request(event, platform.stripe_webhook_secret)

        response = await gateway.post("/v1/webhooks/stripe", content=body, headers=headers)

        assert response.status_code == 200, response.text
        assert response.json()["outcome"] == "processed", response.text
        row = await invoice_row(platform, agency, invoice_id)
        assert (row["status"], row["amount_paid_cents"]) == ("paid", 120_000)
