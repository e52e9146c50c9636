"""Renewing an invoice's payment page (stripe-mock for Stripe): a Checkout Session lives 24
hours and an invoice weeks, so a sent invoice gets a new page on request, the new session is
the one Stripe's webhook is matched by (signed with billing's webhook secret), and only
invoices that still owe money have one."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.billing.invoice.issuing import IssuingService
from agencyos.billing.models import Invoice
from agencyos.billing.settings import BillingSettings
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller, ServiceInProcess
from agencyos.testing.invoicing import Books
from agencyos.testing.stripe_webhooks import (
    signed_request,
    stripe_event,
    stripe_id,
    stripe_object,
)


async def renew(books: Books, invoice_id: str, who: Caller | None = None) -> httpx.Response:
    return await books.gateway.post(
        f"/v1/invoices/{invoice_id}/payment-link", headers=(who or books.agency).headers
    )


async def renewed(books: Books, invoice_id: str) -> dict[str, Any]:
    response = await renew(books, invoice_id)
    assert response.status_code == 200, response.text
    invoice: dict[str, Any] = response.json()
    return invoice


async def sessions_of(books: Books, invoice_id: str) -> set[str]:
    rows = await books.billing_rows(
        "SELECT stripe_id FROM stripe_references WHERE invoice_id = $1", uuid.UUID(invoice_id)
    )
    return {r["stripe_id"] for r in rows}


async def current_session(books: Books, invoice_id: str) -> str:
    [row] = await books.billing_rows(
        "SELECT stripe_checkout_session_id FROM invoices WHERE id = $1", uuid.UUID(invoice_id)
    )
    return str(row["stripe_checkout_session_id"])


class TestRenewing:
    async def test_a_sent_invoice_gets_a_new_page_which_replaces_the_old_one(
        self, books: Books
    ) -> None:
        sent = await books.sent((await books.manual_draft(10_000))["id"])
        first = await current_session(books, sent["id"])

        invoice = await renewed(books, sent["id"])

        second = await current_session(books, sent["id"])
        assert second != first
        assert invoice["payment_url"], invoice
        assert (invoice["status"], invoice["number"]) == ("sent", sent["number"])
        # both sessions stay known, so a payment that got through on the old page still counts
        assert await sessions_of(books, sent["id"]) == {first, second}

    async def test_a_payment_on_the_new_page_pays_the_invoice(
        self, billing: httpx.AsyncClient, billing_service: ServiceInProcess, books: Books
    ) -> None:
        settings = billing_service.settings
        assert isinstance(settings, BillingSettings)
        sent = await books.sent((await books.manual_draft(10_000))["id"])
        await renewed(books, sent["id"])
        session = await stripe_object(settings.stripe_api_base, "checkout/sessions")
        session.update(
            id=await current_session(books, sent["id"]),
            mode="payment",
            status="complete",
            payment_status="paid",
            payment_intent=stripe_id("pi"),
            amount_subtotal=10_000,
            amount_total=10_000,
            currency=books.currency.lower(),
            client_reference_id=None,
            metadata={},  # found by the session's id alone, as billing recorded it
        )
        body, headers = signed_request(
            stripe_event("checkout.session.completed", session), settings.stripe_webhook_secret
        )

        delivered = await billing.post("/v1/webhooks/stripe", content=body, headers=headers)

        assert delivered.status_code == 200, delivered.text
        assert delivered.json()["outcome"] == "processed"
        invoice = await books.gateway.get(
            f"/v1/invoices/{sent['id']}", headers=books.agency.headers
        )
        assert (invoice.json()["status"], invoice.json()["amount_paid_cents"]) == ("paid", 10_000)

    async def test_a_partly_paid_invoice_gets_a_page_too(self, books: Books) -> None:
        sent = await books.sent((await books.manual_draft(10_000))["id"])
        partial = await books.gateway.post(
            f"/v1/invoices/{sent['id']}/payments",
            json={"amount_cents": 4_000, "method": "bank_transfer"},
            headers=books.agency.headers,
        )
        assert partial.status_code == 201, partial.text

        invoice = await renewed(books, sent["id"])

        assert invoice["status"] == "partially_paid"
        assert len(await sessions_of(books, sent["id"])) == 2

    @pytest.mark.parametrize(
        ("status", "total", "paid", "owed"),
        [("sent", 10_000, 0, 10_000), ("partially_paid", 10_000, 4_000, 6_000)],
    )
    def test_the_page_asks_for_what_is_still_owed(
        self, status: str, total: int, paid: int, owed: int
    ) -> None:
        # stripe-mock answers with fixed amounts, so the amount asked is checked here
        invoice = Invoice(status=status, total_cents=total, amount_paid_cents=paid)
        assert IssuingService._check_payable(invoice) == owed


class TestRefused:
    async def test_a_draft_a_paid_and_a_void_invoice_have_no_page(self, books: Books) -> None:
        draft = await books.manual_draft(10_000)
        paid = await books.sent((await books.manual_draft(5_000))["id"])
        settled = await books.gateway.post(
            f"/v1/invoices/{paid['id']}/payments",
            json={"amount_cents": 5_000, "method": "bank_transfer"},
            headers=books.agency.headers,
        )
        assert settled.status_code == 201, settled.text
        void = await books.sent((await books.manual_draft(7_000))["id"])
        voided = await books.gateway.post(
            f"/v1/invoices/{void['id']}/void", headers=books.agency.headers
        )
        assert voided.status_code == 200, voided.text

        for invoice, status in ((draft, "draft"), (paid, "paid"), (void, "void")):
            problem = assert_problem(await renew(books, invoice["id"]), 409, "invoice-not-payable")
            assert status in problem["detail"]
        assert await sessions_of(books, draft["id"]) == set()

    async def test_members_may_not_and_other_agencies_find_no_invoice(
        self, tenant: Agency, books: Books, other_agency: Caller
    ) -> None:
        sent = await books.sent((await books.manual_draft(10_000))["id"])
        before = await current_session(books, sent["id"])
        member = tenant.caller("member")

        assert_problem(await renew(books, sent["id"], member), 403)
        assert_problem(await renew(books, sent["id"], other_agency), 404)
        assert_problem(await renew(books, str(uuid.uuid4())), 404)
        assert await current_session(books, sent["id"]) == before
