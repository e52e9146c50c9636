"""Payments through Stripe's webhook (signed with billing's secret): a checkout payment makes
the invoice paid, and `billing.invoice.paid` goes to the outbox exactly once however often, in
whatever order and however concurrently Stripe delivers its events; failed payments and refunds
walk the invoice's balance, and money in another currency is ignored."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.testing.inprocess import Caller
from agencyos.testing.stripe_webhooks import stripe_event

PAID = "billing.invoice.paid"
RECORDED = "billing.payment.recorded"
FAILED = "billing.invoice.payment_failed"

SeedInvoice = Callable[..., Awaitable[uuid.UUID]]
InvoiceRow = Callable[[Caller, uuid.UUID], Awaitable[Any]]
PaymentRows = Callable[[Caller, uuid.UUID], Awaitable[list[Any]]]
OutboxEvents = Callable[[Caller, str, uuid.UUID], Awaitable[list[dict[str, Any]]]]
Balance = Callable[[Caller, uuid.UUID], Awaitable[tuple[str, int]]]
# the conftest's StripePayment (session, intent, charge, and events of them)
NewStripePayment = Callable[..., Any]
SentInvoice = Callable[..., Awaitable[tuple[uuid.UUID, Any]]]
Deliver = Callable[..., Awaitable[httpx.Response]]
StripeEventRow = Callable[[str], Awaitable[Any]]


class TestCheckoutPayment:
    async def test_checkout_completed_makes_the_invoice_paid_and_publishes_it(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        sent_invoice: SentInvoice,
        deliver: Deliver,
        invoice_row: InvoiceRow,
        payment_rows: PaymentRows,
        stripe_event_row: StripeEventRow,
        outbox_events: OutboxEvents,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency, total_cents=120_000)
        event = await payment.completed()

        await deliver(event)

        row = await invoice_row(agency, invoice_id)
        assert (row["status"], row["amount_paid_cents"]) == ("paid", 120_000)
        assert int(row["paid_at"].timestamp()) == event["created"]
        [stored] = await payment_rows(agency, invoice_id)
        assert stored["method"] == "stripe"
        assert stored["amount_cents"] == 120_000
        assert stored["stripe_payment_intent_id"] == payment.intent_id
        assert stored["reference"] == payment.session_id
        listing = await billing.get(f"/v1/invoices/{invoice_id}/payments", headers=agency.headers)
        assert [p["method"] for p in listing.json()["items"]] == ["stripe"]
        [paid] = await outbox_events(agency, PAID, invoice_id)
        assert paid["tenantid"] == str(agency.agency_id)
        assert paid["data"]["amount_cents"] == 120_000
        assert paid["data"]["total_cents"] == 120_000
        assert paid["data"]["currency"] == "EUR"
        [recorded] = await outbox_events(agency, RECORDED, invoice_id)
        assert recorded["data"]["method"] == "stripe"
        assert recorded["data"]["invoice_status"] == "paid"
        stored_event = await stripe_event_row(event["id"])
        assert stored_event["outcome"] == "processed"
        assert stored_event["tenant_id"] == agency.agency_id
        assert stored_event["invoice_id"] == invoice_id

    async def test_a_replayed_event_answers_200_and_changes_nothing(
        self,
        agency: Caller,
        sent_invoice: SentInvoice,
        deliver: Deliver,
        balance: Balance,
        payment_rows: PaymentRows,
        outbox_events: OutboxEvents,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency)
        event = await payment.completed()
        await deliver(event)

        for _ in range(3):
            await deliver(event, expect="duplicate")

        assert len(await payment_rows(agency, invoice_id)) == 1
        assert await balance(agency, invoice_id) == ("paid", 120_000)
        assert len(await outbox_events(agency, PAID, invoice_id)) == 1
        assert len(await outbox_events(agency, RECORDED, invoice_id)) == 1

    @pytest.mark.parametrize("intent_first", [False, True])
    async def test_the_checkout_and_intent_events_count_the_money_once_in_either_order(
        self,
        agency: Caller,
        sent_invoice: SentInvoice,
        deliver: Deliver,
        balance: Balance,
        payment_rows: PaymentRows,
        outbox_events: OutboxEvents,
        intent_first: bool,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency)
        events = [await payment.completed(), await payment.succeeded()]
        if intent_first:
            events.reverse()

        for event in events:
            await deliver(event)
        for event in events:  # and Stripe retries both
            await deliver(event, expect="duplicate")

        [stored] = await payment_rows(agency, invoice_id)
        assert stored["amount_cents"] == 120_000
        assert stored["stripe_payment_intent_id"] == payment.intent_id
        assert stored["stripe_charge_id"] == payment.charge_id
        assert await balance(agency, invoice_id) == ("paid", 120_000)
        assert len(await outbox_events(agency, PAID, invoice_id)) == 1
        assert len(await outbox_events(agency, RECORDED, invoice_id)) == 1

    async def test_concurrent_deliveries_of_both_events_and_replays_pay_once(
        self,
        agency: Caller,
        sent_invoice: SentInvoice,
        deliver: Deliver,
        balance: Balance,
        payment_rows: PaymentRows,
        outbox_events: OutboxEvents,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency)
        completed = await payment.completed()
        succeeded = await payment.succeeded()

        responses = await asyncio.gather(
            *(
                deliver(event, expect=None)
                for event in (completed, succeeded, completed, succeeded, completed, succeeded)
            )
        )

        assert [r.status_code for r in responses] == [200] * 6, [r.text for r in responses]
        outcomes = sorted(r.json()["outcome"] for r in responses)
        assert outcomes == ["duplicate"] * 4 + ["processed"] * 2
        assert len(await payment_rows(agency, invoice_id)) == 1
        assert await balance(agency, invoice_id) == ("paid", 120_000)
        assert len(await outbox_events(agency, PAID, invoice_id)) == 1

    async def test_the_intent_event_alone_finds_the_invoice_by_its_metadata(
        self,
        agency: Caller,
        stripe_payment: NewStripePayment,
        seed_invoice: SeedInvoice,
        deliver: Deliver,
        balance: Balance,
    ) -> None:
        # no stripe_references row at all: only the intent's metadata names the invoice
        invoice_id = await seed_invoice(agency, total_cents=5_000)
        payment = stripe_payment(agency, invoice_id, 5_000)

        await deliver(await payment.succeeded())

        assert await balance(agency, invoice_id) == ("paid", 5_000)
        # ...and billing now knows the intent and charge: a refund without metadata finds it
        refund = await payment.refunded(amount_refunded=1_000)
        refund["data"]["object"]["metadata"] = {}
        await deliver(refund)
        assert await balance(agency, invoice_id) == ("partially_paid", 4_000)

    async def test_a_stripe_payment_completes_a_partly_paid_invoice(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        stripe_payment: NewStripePayment,
        sent_invoice: SentInvoice,
        deliver: Deliver,
        balance: Balance,
        outbox_events: OutboxEvents,
    ) -> None:
        invoice_id, _ = await sent_invoice(agency, total_cents=100_000)
        response = await billing.post(
            f"/v1/invoices/{invoice_id}/payments",
            json={"amount_cents": 40_000, "method": "bank_transfer"},
            headers=agency.headers,
        )
        assert response.status_code == 201, response.text
        rest = stripe_payment(agency, invoice_id, 60_000)

        await deliver(await rest.succeeded())

        assert await balance(agency, invoice_id) == ("paid", 100_000)
        [paid] = await outbox_events(agency, PAID, invoice_id)
        assert paid["data"]["amount_cents"] == 60_000

    async def test_an_unpaid_checkout_session_records_nothing(
        self,
        agency: Caller,
        sent_invoice: SentInvoice,
        deliver: Deliver,
        balance: Balance,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency)

        await deliver(await payment.completed(payment_status="unpaid"))

        assert await balance(agency, invoice_id) == ("sent", 0)
        # the delayed payment succeeding later brings the money
        later = stripe_event(
            "checkout.session.async_payment_succeeded", await payment.checkout_session()
        )
        await deliver(later)
        assert await balance(agency, invoice_id) == ("paid", 120_000)

    async def test_money_in_another_currency_is_ignored(
        self,
        agency: Caller,
        sent_invoice: SentInvoice,
        deliver: Deliver,
        balance: Balance,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency)

        await deliver(await payment.completed(currency="usd"), expect="ignored")

        assert await balance(agency, invoice_id) == ("sent", 0)


class TestFailedPayment:
    async def test_a_failed_intent_publishes_payment_failed_and_keeps_the_status(
        self,
        agency: Caller,
        sent_invoice: SentInvoice,
        deliver: Deliver,
        balance: Balance,
        invoice_row: InvoiceRow,
        outbox_events: OutboxEvents,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency)
        intent = await payment.payment_intent(
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

        await deliver(event)
        await deliver(event, expect="duplicate")

        assert await balance(agency, invoice_id) == ("sent", 0)
        [failed] = await outbox_events(agency, FAILED, invoice_id)
        assert failed["data"]["reason"] == "Your card has insufficient funds."
        assert failed["data"]["number"] == (await invoice_row(agency, invoice_id))["number"]


class TestRefunds:
    async def test_a_partial_then_full_refund_walks_the_invoice_back(
        self,
        agency: Caller,
        sent_invoice: SentInvoice,
        deliver: Deliver,
        balance: Balance,
        invoice_row: InvoiceRow,
        payment_rows: PaymentRows,
        outbox_events: OutboxEvents,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency, total_cents=120_000)
        await deliver(await payment.completed())
        await deliver(await payment.succeeded())

        partial = await payment.refunded(amount_refunded=20_000)
        await deliver(partial)
        await deliver(partial, expect="duplicate")
        row = await invoice_row(agency, invoice_id)
        assert (row["status"], row["amount_paid_cents"], row["paid_at"]) == (
            "partially_paid",
            100_000,
            None,
        )

        # Stripe's amount_refunded is a running total: the second event adds the rest only
        full = await payment.refunded(amount_refunded=120_000)
        await deliver(full)

        assert await balance(agency, invoice_id) == ("sent", 0)
        amounts = [p["amount_cents"] for p in await payment_rows(agency, invoice_id)]
        assert amounts == [120_000, -20_000, -100_000]
        recorded = await outbox_events(agency, RECORDED, invoice_id)
        assert [e["data"]["amount_cents"] for e in recorded] == [120_000, -20_000, -100_000]
        assert [e["data"]["invoice_status"] for e in recorded] == [
            "paid",
            "partially_paid",
            "sent",
        ]
        assert len(await outbox_events(agency, PAID, invoice_id)) == 1

    async def test_a_refund_seen_before_the_payment_events_ends_in_the_same_balance(
        self,
        agency: Caller,
        sent_invoice: SentInvoice,
        deliver: Deliver,
        balance: Balance,
        payment_rows: PaymentRows,
        outbox_events: OutboxEvents,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency, total_cents=120_000)
        refund = await payment.refunded(amount_refunded=30_000)

        await deliver(refund)
        await deliver(await payment.completed())
        await deliver(await payment.succeeded())

        assert await balance(agency, invoice_id) == ("partially_paid", 90_000)
        amounts = sorted(p["amount_cents"] for p in await payment_rows(agency, invoice_id))
        assert amounts == [-30_000, 120_000]
        assert len(await outbox_events(agency, PAID, invoice_id)) == 1
