"""Stripe's webhook through the gateway against the running platform, with events shaped like
Stripe's (objects from stripe-mock's fixtures) and signed with the run's real secret: only
correctly signed, fresh events are accepted; a checkout payment makes the invoice paid and
publishes `billing.invoice.paid` exactly once however often and in whatever order Stripe
delivers its events; failures, refunds, unknown events and other agencies' invoices."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.billing import (
    invoice_events,
    invoice_row,
    payment_rows,
    settled_billing_events,
)
from agencyos.testing.factories import AgencySession, seed_invoice
from agencyos.testing.http import assert_problem
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows
from agencyos.testing.stripe_webhooks import (
    sign,
    signed_request,
    stripe_event,
    stripe_id,
    stripe_object,
)

WEBHOOK = "/v1/webhooks/stripe"
PAID = "billing.invoice.paid"
RECORDED = "billing.payment.recorded"
FAILED = "billing.invoice.payment_failed"


# --- Stripe objects and deliveries ----------------------------------------------------------


class Payment:
    """One Stripe Checkout payment of an invoice: its session, payment intent and charge."""

    def __init__(
        self, agency: AgencySession, invoice_id: uuid.UUID, amount: int, currency: str = "eur"
    ) -> None:
        self.agency = agency
        self.invoice_id = invoice_id
        self.amount = amount
        self.currency = currency
        self.session_id = stripe_id("cs")
        self.intent_id = stripe_id("pi")
        self.charge_id = stripe_id("ch")

    @property
    def metadata(self) -> dict[str, str]:
        return {"invoice_id": str(self.invoice_id), "tenant_id": str(self.agency.agency_id)}

    async def checkout_session(self, platform: Platform, **fields: Any) -> dict[str, Any]:
        obj = await stripe_object(platform.stripe_api_base, "checkout/sessions")
        obj.update(
            id=self.session_id,
            mode="payment",
            status="complete",
            payment_status="paid",
            payment_intent=self.intent_id,
            amount_subtotal=self.amount,
            amount_total=self.amount,
            currency=self.currency,
            client_reference_id=str(self.invoice_id),
            metadata=self.metadata,
        )
        obj.update(fields)
        return obj

    async def payment_intent(self, platform: Platform, **fields: Any) -> dict[str, Any]:
        obj = await stripe_object(platform.stripe_api_base, "payment_intents")
        obj.update(
            id=self.intent_id,
            amount=self.amount,
            amount_received=self.amount,
            currency=self.currency,
            status="succeeded",
            latest_charge=self.charge_id,
            last_payment_error=None,
            metadata=self.metadata,
        )
        obj.update(fields)
        return obj

    async def charge(self, platform: Platform, **fields: Any) -> dict[str, Any]:
        obj = await stripe_object(platform.stripe_api_base, "charges")
        obj.update(
            id=self.charge_id,
            amount=self.amount,
            amount_captured=self.amount,
            captured=True,
            paid=True,
            status="succeeded",
            currency=self.currency,
            payment_intent=self.intent_id,
            metadata=self.metadata,
        )
        obj.update(fields)
        return obj

    async def completed(self, platform: Platform, **fields: Any) -> dict[str, Any]:
        return stripe_event(
            "checkout.session.completed", await self.checkout_session(platform, **fields)
        )

    async def succeeded(self, platform: Platform, **fields: Any) -> dict[str, Any]:
        return stripe_event(
            "payment_intent.succeeded", await self.payment_intent(platform, **fields)
        )

    async def refunded(self, platform: Platform, amount_refunded: int) -> dict[str, Any]:
        charge = await self.charge(
            platform, amount_refunded=amount_refunded, refunded=amount_refunded >= self.amount
        )
        return stripe_event("charge.refunded", charge)


async def deliver(
    gateway: httpx.AsyncClient,
    platform: Platform,
    event: dict[str, Any],
    *,
    expect: str | None = "processed",
) -> httpx.Response:
    """POST `event` as Stripe would, signed with the run's secret."""
    body, headers = signed_request(event, platform.stripe_webhook_secret)
    response = await gateway.post(WEBHOOK, content=body, headers=headers)
    if expect is not None:
        assert response.status_code == 200, response.text
        assert response.json() == {"received": True, "event_id": event["id"], "outcome": expect}
    return response


async def stripe_event_row(platform: Platform, event_id: str) -> Any:
    rows = await fetch_rows(
        platform.infra,
        platform.database("billing"),
        "SELECT * FROM stripe_events WHERE id = $1",
        event_id,
    )
    return rows[0] if rows else None


async def sent_invoice(
    platform: Platform, agency: AgencySession, total_cents: int = 120_000, **fields: Any
) -> tuple[uuid.UUID, Payment]:
    """A sent invoice with a Checkout Session, as sending it leaves it."""
    payment_fields = {"currency": fields["currency"].lower()} if "currency" in fields else {}
    placeholder = uuid.uuid4()
    payment = Payment(agency, placeholder, total_cents, **payment_fields)
    invoice_id = await seed_invoice(
        platform,
        agency,
        total_cents=total_cents,
        checkout_session_id=payment.session_id,
        payment_url=f"https://checkout.stripe.com/c/pay/{payment.session_id}",
        **fields,
    )
    payment.invoice_id = invoice_id
    return invoice_id, payment


async def balance(platform: Platform, agency: AgencySession, invoice_id: uuid.UUID) -> tuple:
    row = await invoice_row(platform, agency, invoice_id)
    return row["status"], row["amount_paid_cents"]


# --- the signature ----------------------------------------------------------------------------


class TestSignature:
    async def test_a_correctly_signed_event_is_accepted_without_a_token(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        _, payment = await sent_invoice(platform, agency)

        response = await deliver(gateway, platform, await payment.completed(platform))

        assert response.status_code == 200

    async def test_an_unsigned_event_is_400_and_changes_nothing(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency)
        event = await payment.completed(platform)

        response = await gateway.post(WEBHOOK, content=json.dumps(event).encode())

        assert_problem(response, 400, "bad-request")
        assert await balance(platform, agency, invoice_id) == ("sent", 0)
        assert await stripe_event_row(platform, event["id"]) is None

    async def test_a_signature_under_another_secret_is_400(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency)
        event = await payment.completed(platform)
        body, headers = signed_request(event, "whsec_" + uuid.uuid4().hex)

        response = await gateway.post(WEBHOOK, content=body, headers=headers)

        assert_problem(response, 400, "bad-request")
        assert await balance(platform, agency, invoice_id) == ("sent", 0)

    async def test_a_body_changed_after_signing_is_400(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency, total_cents=120_000)
        event = await payment.completed(platform, amount_total=100)
        body, headers = signed_request(event, platform.stripe_webhook_secret)
        # keep the signature, raise the amount
        tampered = body.replace(b'"amount_total": 100,', b'"amount_total": 120000,')
        assert tampered != body

        response = await gateway.post(WEBHOOK, content=tampered, headers=headers)

        assert_problem(response, 400, "bad-request")
        assert await balance(platform, agency, invoice_id) == ("sent", 0)

    @pytest.mark.parametrize("age_seconds", [301, 3600, -3600])
    async def test_a_timestamp_outside_the_tolerance_is_400(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        age_seconds: int,
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency)
        event = await payment.completed(platform)
        body, headers = signed_request(
            event, platform.stripe_webhook_secret, timestamp=int(time.time()) - age_seconds
        )

        response = await gateway.post(WEBHOOK, content=body, headers=headers)

        body_json = assert_problem(response, 400, "bad-request")
        assert "tolerance" in body_json["detail"]
        assert await balance(platform, agency, invoice_id) == ("sent", 0)

    @pytest.mark.parametrize(
        "header",
        [
            "",
            "garbage",
            "t=notanumber,v1=abc",
            "v1=abcdef",
            "t=1700000000",
            "t={now},v0={sig}",
        ],
    )
    async def test_a_malformed_signature_header_is_400(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession, header: str
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency)
        body = json.dumps(await payment.completed(platform)).encode()
        now = int(time.time())
        good = sign(body, platform.stripe_webhook_secret, now).split("v1=")[1]

        response = await gateway.post(
            WEBHOOK,
            content=body,
            headers={"Stripe-Signature": header.format(now=now, sig=good)},
        )

        assert_problem(response, 400, "bad-request")
        assert await balance(platform, agency, invoice_id) == ("sent", 0)

    async def test_a_signed_body_that_is_not_an_event_is_400(
        self, platform: Platform, gateway: httpx.AsyncClient
    ) -> None:
        for body in (b"not json", b"[1, 2]", b'{"id": "evt_1"}', b"\xff\xfe"):
            headers = {"Stripe-Signature": sign(body, platform.stripe_webhook_secret)}
            response = await gateway.post(WEBHOOK, content=body, headers=headers)
            assert_problem(response, 400, "bad-request")

    async def test_the_webhook_is_documented_with_its_signature(
        self, gateway: httpx.AsyncClient
    ) -> None:
        response = await gateway.get("/openapi.json")
        assert response.status_code == 200
        operation = response.json()["paths"][WEBHOOK]["post"]
        assert "Stripe-Signature" in operation["description"]
        assert "charge.refunded" in operation["description"]
        assert "400" in operation["responses"]


# --- paying -----------------------------------------------------------------------------------


class TestCheckoutPayment:
    async def test_checkout_completed_makes_the_invoice_paid_and_publishes_it(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency, total_cents=120_000)
        event = await payment.completed(platform)

        await deliver(gateway, platform, event)

        row = await invoice_row(platform, agency, invoice_id)
        assert (row["status"], row["amount_paid_cents"]) == ("paid", 120_000)
        assert int(row["paid_at"].timestamp()) == event["created"]
        [stored] = await payment_rows(platform, agency, invoice_id)
        assert stored["method"] == "stripe"
        assert stored["amount_cents"] == 120_000
        assert stored["stripe_payment_intent_id"] == payment.intent_id
        assert stored["reference"] == payment.session_id
        listing = await gateway.get(f"/v1/invoices/{invoice_id}/payments", headers=agency.headers)
        assert [p["method"] for p in listing.json()["items"]] == ["stripe"]
        records = await settled_billing_events(platform, gateway, agency)
        [paid] = invoice_events(records, PAID, invoice_id)
        assert paid["tenantid"] == str(agency.agency_id)
        assert paid["data"]["amount_cents"] == 120_000
        assert paid["data"]["total_cents"] == 120_000
        assert paid["data"]["currency"] == "EUR"
        [recorded] = invoice_events(records, RECORDED, invoice_id)
        assert recorded["data"]["method"] == "stripe"
        assert recorded["data"]["invoice_status"] == "paid"
        stored_event = await stripe_event_row(platform, event["id"])
        assert stored_event["outcome"] == "processed"
        assert stored_event["tenant_id"] == agency.agency_id
        assert stored_event["invoice_id"] == invoice_id

    async def test_a_replayed_event_answers_200_and_changes_nothing(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency)
        event = await payment.completed(platform)
        await deliver(gateway, platform, event)

        for _ in range(3):
            await deliver(gateway, platform, event, expect="duplicate")

        assert len(await payment_rows(platform, agency, invoice_id)) == 1
        assert await balance(platform, agency, invoice_id) == ("paid", 120_000)
        records = await settled_billing_events(platform, gateway, agency)
        assert len(invoice_events(records, PAID, invoice_id)) == 1
        assert len(invoice_events(records, RECORDED, invoice_id)) == 1

    @pytest.mark.parametrize("intent_first", [False, True])
    async def test_the_checkout_and_intent_events_count_the_money_once_in_either_order(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        intent_first: bool,
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency)
        events = [await payment.completed(platform), await payment.succeeded(platform)]
        if intent_first:
            events.reverse()

        for event in events:
            await deliver(gateway, platform, event)
        for event in events:  # and Stripe retries both
            await deliver(gateway, platform, event, expect="duplicate")

        [stored] = await payment_rows(platform, agency, invoice_id)
        assert stored["amount_cents"] == 120_000
        assert stored["stripe_payment_intent_id"] == payment.intent_id
        assert stored["stripe_charge_id"] == payment.charge_id
        assert await balance(platform, agency, invoice_id) == ("paid", 120_000)
        records = await settled_billing_events(platform, gateway, agency)
        assert len(invoice_events(records, PAID, invoice_id)) == 1
        assert len(invoice_events(records, RECORDED, invoice_id)) == 1

    async def test_concurrent_deliveries_of_both_events_and_replays_pay_once(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency)
        completed = await payment.completed(platform)
        succeeded = await payment.succeeded(platform)

        responses = await asyncio.gather(
            *(
                deliver(gateway, platform, event, expect=None)
                for event in (completed, succeeded, completed, succeeded, completed, succeeded)
            )
        )

        assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
        outcomes = sorted(r.json()["outcome"] for r in responses)
        assert outcomes == ["duplicate"] * 4 + ["processed"] * 2
        assert len(await payment_rows(platform, agency, invoice_id)) == 1
        assert await balance(platform, agency, invoice_id) == ("paid", 120_000)
        records = await settled_billing_events(platform, gateway, agency)
        assert len(invoice_events(records, PAID, invoice_id)) == 1

    async def test_the_intent_event_alone_finds_the_invoice_by_its_metadata(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        # no stripe_references row at all: only the intent's metadata names the invoice
        invoice_id = await seed_invoice(platform, agency, total_cents=5_000)
        payment = Payment(agency, invoice_id, 5_000)

        await deliver(gateway, platform, await payment.succeeded(platform))

        assert await balance(platform, agency, invoice_id) == ("paid", 5_000)
        # ...and billing now knows the intent and charge: a refund without metadata finds it
        refund = await payment.refunded(platform, amount_refunded=1_000)
        refund["data"]["object"]["metadata"] = {}
        await deliver(gateway, platform, refund)
        assert await balance(platform, agency, invoice_id) == ("partially_paid", 4_000)

    async def test_a_stripe_payment_completes_a_partly_paid_invoice(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id, _ = await sent_invoice(platform, agency, total_cents=100_000)
        response = await gateway.post(
            f"/v1/invoices/{invoice_id}/payments",
            json={"amount_cents": 40_000, "method": "bank_transfer"},
            headers=agency.headers,
        )
        assert response.status_code == 201, response.text
        rest = Payment(agency, invoice_id, 60_000)

        await deliver(gateway, platform, await rest.succeeded(platform))

        assert await balance(platform, agency, invoice_id) == ("paid", 100_000)
        records = await settled_billing_events(platform, gateway, agency)
        [paid] = invoice_events(records, PAID, invoice_id)
        assert paid["data"]["amount_cents"] == 60_000

    async def test_an_unpaid_checkout_session_records_nothing(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency)

        await deliver(gateway, platform, await payment.completed(platform, payment_status="unpaid"))

        assert await balance(platform, agency, invoice_id) == ("sent", 0)
        # the delayed payment succeeding later brings the money
        later = stripe_event(
            "checkout.session.async_payment_succeeded", await payment.checkout_session(platform)
        )
        await deliver(gateway, platform, later)
        assert await balance(platform, agency, invoice_id) == ("paid", 120_000)

    async def test_money_in_another_currency_is_ignored(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency)

        await deliver(
            gateway, platform, await payment.completed(platform, currency="usd"), expect="ignored"
        )

        assert await balance(platform, agency, invoice_id) == ("sent", 0)


# --- failures and refunds ---------------------------------------------------------------------


class TestFailedPayment:
    async def test_a_failed_intent_publishes_payment_failed_and_keeps_the_status(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency)
        intent = await payment.payment_intent(
            platform,
            status="requires_payment_method",
            amount_received=0,
            last_payment_error={
                "type": "card_error",
                "code": "card_declined",
                "decline_code": "insufficient_funds",
                "message": "Your card has insufficient funds.",
            },
        )
        event = stripe_event("payment_intent.payment_failed", intent)

        await deliver(gateway, platform, event)
        await deliver(gateway, platform, event, expect="duplicate")

        assert await balance(platform, agency, invoice_id) == ("sent", 0)
        records = await settled_billing_events(platform, gateway, agency)
        [failed] = invoice_events(records, FAILED, invoice_id)
        assert failed["data"]["reason"] == "Your card has insufficient funds."
        assert (
            failed["data"]["number"] == (await invoice_row(platform, agency, invoice_id))["number"]
        )


class TestRefunds:
    async def test_a_partial_then_full_refund_walks_the_invoice_back(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency, total_cents=120_000)
        await deliver(gateway, platform, await payment.completed(platform))
        await deliver(gateway, platform, await payment.succeeded(platform))

        partial = await payment.refunded(platform, amount_refunded=20_000)
        await deliver(gateway, platform, partial)
        await deliver(gateway, platform, partial, expect="duplicate")
        row = await invoice_row(platform, agency, invoice_id)
        assert (row["status"], row["amount_paid_cents"], row["paid_at"]) == (
            "partially_paid",
            100_000,
            None,
        )

        # Stripe's amount_refunded is a running total: the second event adds the rest only
        full = await payment.refunded(platform, amount_refunded=120_000)
        await deliver(gateway, platform, full)

        assert await balance(platform, agency, invoice_id) == ("sent", 0)
        amounts = [p["amount_cents"] for p in await payment_rows(platform, agency, invoice_id)]
        assert amounts == [120_000, -20_000, -100_000]
        records = await settled_billing_events(platform, gateway, agency)
        recorded = invoice_events(records, RECORDED, invoice_id)
        assert [e["data"]["amount_cents"] for e in recorded] == [120_000, -20_000, -100_000]
        assert [e["data"]["invoice_status"] for e in recorded] == [
            "paid",
            "partially_paid",
            "sent",
        ]
        assert len(invoice_events(records, PAID, invoice_id)) == 1

    async def test_a_refund_seen_before_the_payment_events_ends_in_the_same_balance(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency, total_cents=120_000)
        refund = await payment.refunded(platform, amount_refunded=30_000)

        await deliver(gateway, platform, refund)
        await deliver(gateway, platform, await payment.completed(platform))
        await deliver(gateway, platform, await payment.succeeded(platform))

        assert await balance(platform, agency, invoice_id) == ("partially_paid", 90_000)
        amounts = sorted(
            p["amount_cents"] for p in await payment_rows(platform, agency, invoice_id)
        )
        assert amounts == [-30_000, 120_000]
        records = await settled_billing_events(platform, gateway, agency)
        assert len(invoice_events(records, PAID, invoice_id)) == 1


# --- what is ignored --------------------------------------------------------------------------


class TestIgnored:
    async def test_an_event_type_billing_does_not_handle_is_recorded_as_ignored(
        self, platform: Platform, gateway: httpx.AsyncClient
    ) -> None:
        customer = await stripe_object(platform.stripe_api_base, "customers")
        event = stripe_event("customer.created", customer)

        await deliver(gateway, platform, event, expect="ignored")
        await deliver(gateway, platform, event, expect="duplicate")

        stored = await stripe_event_row(platform, event["id"])
        assert (stored["type"], stored["outcome"]) == ("customer.created", "ignored")

    async def test_an_event_for_no_invoice_of_ours_is_ignored(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        stranger = Payment(agency, uuid.uuid4(), 5_000)
        no_metadata = await stranger.completed(platform, metadata={})
        unknown_invoice = await stranger.succeeded(platform)
        garbage_metadata = await stranger.succeeded(
            platform, id=stripe_id("pi"), metadata={"tenant_id": "x", "invoice_id": "y"}
        )

        for event in (no_metadata, unknown_invoice, garbage_metadata):
            await deliver(gateway, platform, event, expect="ignored")

    async def test_an_event_with_an_unexpected_object_shape_is_ignored(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice_id, payment = await sent_invoice(platform, agency)
        event = await payment.completed(platform, amount_total="a lot")

        await deliver(gateway, platform, event, expect="ignored")

        assert await balance(platform, agency, invoice_id) == ("sent", 0)


class TestAgencies:
    async def test_metadata_naming_another_agencys_invoice_finds_nothing(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        theirs = await seed_invoice(platform, other_agency, total_cents=5_000)
        # our agency's id with their invoice id: RLS under our tenant finds no such invoice
        mixed = Payment(agency, theirs, 5_000)

        await deliver(gateway, platform, await mixed.succeeded(platform), expect="ignored")

        assert await balance(platform, other_agency, theirs) == ("sent", 0)

    async def test_a_signed_event_affects_only_the_invoice_it_names(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        ours, _ = await sent_invoice(platform, agency, total_cents=5_000)
        theirs, their_payment = await sent_invoice(platform, other_agency, total_cents=5_000)

        await deliver(gateway, platform, await their_payment.completed(platform))

        assert await balance(platform, other_agency, theirs) == ("paid", 5_000)
        assert await balance(platform, agency, ours) == ("sent", 0)
        mine = await gateway.get(f"/v1/invoices/{theirs}/payments", headers=agency.headers)
        assert_problem(mine, 404, "not-found")

    async def test_the_session_reference_wins_over_metadata(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        ours, payment = await sent_invoice(platform, agency, total_cents=5_000)
        theirs = await seed_invoice(platform, other_agency, total_cents=5_000)
        event = await payment.completed(
            platform,
            metadata={"tenant_id": str(other_agency.agency_id), "invoice_id": str(theirs)},
        )

        await deliver(gateway, platform, event)

        assert await balance(platform, agency, ours) == ("paid", 5_000)
        assert await balance(platform, other_agency, theirs) == ("sent", 0)
