"""What Stripe's webhook ignores (signed with billing's secret): event types billing does not
handle, events naming no invoice of ours or shaped unexpectedly; and agencies: an event
affects only the invoice it names, never another agency's through its metadata."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.billing.settings import BillingSettings
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Caller
from agencyos.testing.stripe_webhooks import stripe_event, stripe_id, stripe_object

SeedInvoice = Callable[..., Awaitable[uuid.UUID]]
Balance = Callable[[Caller, uuid.UUID], Awaitable[tuple[str, int]]]
# the conftest's StripePayment (session, intent, charge, and events of them)
NewStripePayment = Callable[..., Any]
SentInvoice = Callable[..., Awaitable[tuple[uuid.UUID, Any]]]
Deliver = Callable[..., Awaitable[httpx.Response]]
StripeEventRow = Callable[[str], Awaitable[Any]]


class TestIgnored:
    async def test_an_event_type_billing_does_not_handle_is_recorded_as_ignored(
        self,
        stripe_settings: BillingSettings,
        deliver: Deliver,
        stripe_event_row: StripeEventRow,
    ) -> None:
        customer = await stripe_object(stripe_settings.stripe_api_base, "customers")
        event = stripe_event("customer.created", customer)

        await deliver(event, expect="ignored")
        await deliver(event, expect="duplicate")

        stored = await stripe_event_row(event["id"])
        assert (stored["type"], stored["outcome"]) == ("customer.created", "ignored")

    async def test_an_event_for_no_invoice_of_ours_is_ignored(
        self,
        agency: Caller,
        stripe_payment: NewStripePayment,
        deliver: Deliver,
    ) -> None:
        stranger = stripe_payment(agency, uuid.uuid4(), 5_000)
        no_metadata = await stranger.completed(metadata={})
        unknown_invoice = await stranger.succeeded()
        garbage_metadata = await stranger.succeeded(
            id=stripe_id("pi"), metadata={"tenant_id": "x", "invoice_id": "y"}
        )

        for event in (no_metadata, unknown_invoice, garbage_metadata):
            await deliver(event, expect="ignored")

    async def test_an_event_with_an_unexpected_object_shape_is_ignored(
        self,
        agency: Caller,
        sent_invoice: SentInvoice,
        deliver: Deliver,
        balance: Balance,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency)
        event = await payment.completed(amount_total="a lot")

        await deliver(event, expect="ignored")

        assert await balance(agency, invoice_id) == ("sent", 0)


class TestAgencies:
    async def test_metadata_naming_another_agencys_invoice_finds_nothing(
        self,
        agency: Caller,
        other_agency: Caller,
        stripe_payment: NewStripePayment,
        seed_invoice: SeedInvoice,
        deliver: Deliver,
        balance: Balance,
    ) -> None:
        theirs = await seed_invoice(other_agency, total_cents=5_000)
        # our agency's id with their invoice id: RLS under our tenant finds no such invoice
        mixed = stripe_payment(agency, theirs, 5_000)

        await deliver(await mixed.succeeded(), expect="ignored")

        assert await balance(other_agency, theirs) == ("sent", 0)

    async def test_a_signed_event_affects_only_the_invoice_it_names(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
        sent_invoice: SentInvoice,
        deliver: Deliver,
        balance: Balance,
    ) -> None:
        ours, _ = await sent_invoice(agency, total_cents=5_000)
        theirs, their_payment = await sent_invoice(other_agency, total_cents=5_000)

        await deliver(await their_payment.completed())

        assert await balance(other_agency, theirs) == ("paid", 5_000)
        assert await balance(agency, ours) == ("sent", 0)
        mine = await billing.get(f"/v1/invoices/{theirs}/payments", headers=agency.headers)
        assert_problem(mine, 404, "not-found")

    async def test_the_session_reference_wins_over_metadata(
        self,
        agency: Caller,
        other_agency: Caller,
        sent_invoice: SentInvoice,
        seed_invoice: SeedInvoice,
        deliver: Deliver,
        balance: Balance,
    ) -> None:
        ours, payment = await sent_invoice(agency, total_cents=5_000)
        theirs = await seed_invoice(other_agency, total_cents=5_000)
        event = await payment.completed(
            metadata={"tenant_id": str(other_agency.agency_id), "invoice_id": str(theirs)},
        )

        await deliver(event)

        assert await balance(agency, ours) == ("paid", 5_000)
        assert await balance(other_agency, theirs) == ("sent", 0)
