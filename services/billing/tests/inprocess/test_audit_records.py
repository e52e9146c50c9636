"""billing records every money-relevant action in the agency's audit log (an `audit.recorded`
event in its outbox, in the action's transaction): invoices sent, voided and deleted (drafts),
payments recorded by hand (the caller) and by Stripe (the platform), an invoice paid in full,
refunds, and billing settings changed; a refused action records nothing."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.billing.settings import BillingSettings
from agencyos.testing.audit_records import AuditRecord, assert_no_secret, audit_records
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller, ServiceInProcess
from agencyos.testing.invoicing import Books

SeedInvoice = Callable[..., Awaitable[uuid.UUID]]
SentInvoice = Callable[..., Awaitable[tuple[uuid.UUID, Any]]]
Deliver = Callable[..., Awaitable[httpx.Response]]


async def only(billing_service: ServiceInProcess, action: str, who: Caller) -> AuditRecord:
    records = await audit_records(billing_service, action=action, tenant_id=who.agency_id)
    assert len(records) == 1, [r.action for r in records]
    record = records[0]
    assert record.source_service == "billing"
    return record


def by(record: AuditRecord, who: Caller) -> bool:
    return (record.actor_type, record.actor_id) == ("user", str(who.user_id))


class TestInvoices:
    async def test_sending_is_recorded_with_the_number_and_total(
        self, agency: Caller, books: Books, billing_service: ServiceInProcess
    ) -> None:
        draft = await books.manual_draft(1000)

        sent = await books.sent(draft["id"])

        record = await only(billing_service, "invoice.sent", agency)
        assert by(record, agency)
        assert (record.entity_type, record.entity_id) == ("invoice", draft["id"])
        assert record.changes == {
            "status": {"before": "draft", "after": "sent"},
            "number": {"before": None, "after": sent["number"]},
        }
        assert record.detail["total_cents"] == sent["total_cents"]
        assert record.detail["currency"] == sent["currency"]

    async def test_a_refused_send_records_nothing(
        self, agency: Caller, books: Books, billing_service: ServiceInProcess
    ) -> None:
        empty = await books.draft(include=[])

        assert_problem(await books.send(empty["id"]), 409, "invoice-not-sendable")

        assert await audit_records(billing_service) == []

    async def test_voiding_is_recorded_with_the_status_before_and_the_reason(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        books: Books,
        billing_service: ServiceInProcess,
    ) -> None:
        sent = await books.sent((await books.manual_draft(1000))["id"])

        response = await billing.post(
            f"/v1/invoices/{sent['id']}/void",
            json={"reason": "Sent to the wrong client"},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        record = await only(billing_service, "invoice.voided", agency)
        assert by(record, agency)
        assert record.entity_id == sent["id"]
        assert record.changes == {"status": {"before": "sent", "after": "void"}}
        assert record.detail["reason"] == "Sent to the wrong client"
        assert record.detail["number"] == sent["number"]

    async def test_deleting_a_draft_is_recorded_with_what_it_was_worth(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        books: Books,
        billing_service: ServiceInProcess,
    ) -> None:
        draft = await books.manual_draft(2500, 500)

        response = await billing.delete(f"/v1/invoices/{draft['id']}", headers=agency.headers)

        assert response.status_code == 204, response.text
        record = await only(billing_service, "invoice.deleted", agency)
        assert by(record, agency)
        assert record.entity_id == draft["id"]
        assert record.before == {"status": "draft", "total_cents": draft["total_cents"]}
        assert record.detail["lines"] == 2

    async def test_deleting_a_sent_invoice_is_refused_and_records_nothing(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        books: Books,
        billing_service: ServiceInProcess,
    ) -> None:
        sent = await books.sent((await books.manual_draft(1000))["id"])

        response = await billing.delete(f"/v1/invoices/{sent['id']}", headers=agency.headers)

        assert_problem(response, 409, "invoice-not-draft")
        assert await audit_records(billing_service, action="invoice.deleted") == []


class TestPayments:
    async def test_a_manual_payment_is_recorded_with_the_balance_before_and_after(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        seed_invoice: SeedInvoice,
        billing_service: ServiceInProcess,
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=100_000)

        response = await billing.post(
            f"/v1/invoices/{invoice_id}/payments",
            json={"amount_cents": 40_000, "method": "bank_transfer", "reference": "SEPA 7"},
            headers=agency.headers,
        )

        assert response.status_code == 201, response.text
        record = await only(billing_service, "payment.recorded", agency)
        assert by(record, agency)
        assert (record.entity_type, record.entity_id) == ("payment", response.json()["id"])
        assert record.changes == {
            "status": {"before": "sent", "after": "partially_paid"},
            "amount_paid_cents": {"before": 0, "after": 40_000},
        }
        assert record.detail["amount_cents"] == 40_000
        assert record.detail["method"] == "bank_transfer"
        assert record.detail["invoice_id"] == str(invoice_id)
        assert await audit_records(billing_service, action="invoice.paid") == []

    async def test_a_payment_of_the_rest_records_the_invoice_paid_too(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        seed_invoice: SeedInvoice,
        billing_service: ServiceInProcess,
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=100_000)

        response = await billing.post(
            f"/v1/invoices/{invoice_id}/payments",
            json={"amount_cents": 100_000, "method": "cash"},
            headers=agency.headers,
        )

        assert response.status_code == 201, response.text
        record = await only(billing_service, "invoice.paid", agency)
        assert by(record, agency)
        assert record.entity_id == str(invoice_id)
        assert record.changes == {"status": {"before": "sent", "after": "paid"}}
        assert record.detail["payment_id"] == response.json()["id"]

    async def test_an_overpayment_is_refused_and_records_nothing(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        seed_invoice: SeedInvoice,
        billing_service: ServiceInProcess,
    ) -> None:
        invoice_id = await seed_invoice(agency, total_cents=100_000)

        response = await billing.post(
            f"/v1/invoices/{invoice_id}/payments",
            json={"amount_cents": 100_001, "method": "cash"},
            headers=agency.headers,
        )

        assert response.status_code == 422, response.text
        assert await audit_records(billing_service) == []

    async def test_a_stripe_payment_and_refund_are_recorded_as_the_platform_without_secrets(
        self,
        agency: Caller,
        sent_invoice: SentInvoice,
        deliver: Deliver,
        billing_service: ServiceInProcess,
        stripe_settings: BillingSettings,
    ) -> None:
        invoice_id, payment = await sent_invoice(agency, total_cents=120_000)

        await deliver(await payment.completed())
        await deliver(await payment.refunded(20_000))

        recorded = await only(billing_service, "payment.recorded", agency)
        paid = await only(billing_service, "invoice.paid", agency)
        refunded = await only(billing_service, "payment.refunded", agency)
        for record in (recorded, paid, refunded):
            assert (record.actor_type, record.actor_id) == ("system", None)
        assert recorded.detail["method"] == "stripe"
        assert paid.entity_id == str(invoice_id)
        assert refunded.detail["amount_cents"] == -20_000
        assert refunded.changes == {
            "status": {"before": "paid", "after": "partially_paid"},
            "amount_paid_cents": {"before": 120_000, "after": 100_000},
        }
        assert_no_secret([recorded, paid, refunded], stripe_settings.stripe_webhook_secret)


class TestBillingSettings:
    async def test_changed_settings_are_recorded_field_by_field(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        billing_service: ServiceInProcess,
    ) -> None:
        response = await billing.put(
            "/v1/billing-settings",
            json={"payment_terms_days": 14, "tax_number": "DE123456789", "invoice_footer": ""},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        record = await only(billing_service, "billing_settings.changed", agency)
        assert by(record, agency)
        # The footer was empty and stays so: not a change.
        assert record.changes == {
            "payment_terms_days": {"before": 30, "after": 14},
            "tax_number": {"before": None, "after": "DE123456789"},
        }

    async def test_settings_sent_as_they_are_record_nothing(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        billing_service: ServiceInProcess,
    ) -> None:
        response = await billing.put(
            "/v1/billing-settings", json={"payment_terms_days": 30}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        assert await audit_records(billing_service) == []

    async def test_a_member_cannot_change_them_and_nothing_is_recorded(
        self, billing: httpx.AsyncClient, tenant: Agency, billing_service: ServiceInProcess
    ) -> None:
        member = tenant.caller("member")

        response = await billing.put(
            "/v1/billing-settings", json={"payment_terms_days": 1}, headers=member.headers
        )

        assert_problem(response, 403, "permission-denied")
        assert await audit_records(billing_service) == []
