"""Draft invoices after they are built: editing notes, terms and lines, deleting and voiding
(which release time and milestones, and write `billing.invoice.voided` to the outbox), and
what a sent invoice no longer allows. (Building drafts: test_building.py.)"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from agencyos.testing.http import assert_problem
from agencyos.testing.invoicing import Books, line_figures, time_entry_ids, totals_of

SeedMilestone = Callable[..., Awaitable[uuid.UUID]]
SeedInvoice = Callable[..., Awaitable[uuid.UUID]]
OutboxEvents = Callable[..., Awaitable[list[dict[str, Any]]]]
WriteBillingSettings = Callable[..., Awaitable[None]]


class TestDrafts:
    async def test_update_notes_and_terms(self, books: Books) -> None:
        invoice = await books.draft(include=[], notes="First")
        assert invoice["due_in_days"] == 30  # the agency's default payment terms
        response = await books.gateway.patch(
            f"/v1/invoices/{invoice['id']}",
            json={"notes": None, "due_in_days": 14},
            headers=books.agency.headers,
        )
        assert response.status_code == 200, response.text
        assert (response.json()["notes"], response.json()["due_in_days"]) == (None, 14)
        assert response.json()["version"] == invoice["version"] + 1

    async def test_manual_line_edit_recomputes(self, books: Books) -> None:
        invoice = await books.manual_draft(1000)
        line = invoice["lines"][0]
        response = await books.gateway.patch(
            f"/v1/invoices/{invoice['id']}/lines/{line['id']}",
            json={"quantity": "2.5", "tax_rate_bps": 1000},
            headers=books.agency.headers,
        )
        assert response.status_code == 200, response.text
        # 2.5 x 1000 = 2500; 10 % = 250
        assert line_figures(response.json()) == [("manual", "2.5000", 1000, 2500, 1000, 250)]
        assert totals_of(response.json()) == (2500, 250, 2750)

    async def test_time_lines_keep_their_quantity_and_cannot_be_removed(self, books: Books) -> None:
        await books.time(3600, rate=10_000)
        invoice = await books.draft()
        line = invoice["lines"][0]
        url = f"/v1/invoices/{invoice['id']}/lines/{line['id']}"
        changed = await books.gateway.patch(
            url, json={"unit_price_cents": 1}, headers=books.agency.headers
        )
        assert_problem(changed, 409, "line-not-editable")
        removed = await books.gateway.delete(url, headers=books.agency.headers)
        assert_problem(removed, 409, "line-not-editable")
        renamed = await books.gateway.patch(
            url,
            json={"description": "Consulting", "tax_rate_bps": 500},
            headers=books.agency.headers,
        )
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["lines"][0]["description"] == "Consulting"
        assert totals_of(renamed.json()) == (10_000, 500, 10_500)

    async def test_deleting_a_draft_releases_its_time_and_milestones(
        self, books: Books, seed_milestone: SeedMilestone
    ) -> None:
        entries = await books.time(3600, 1800)
        milestone = await seed_milestone(books)
        invoice = await books.draft()
        rows = await books.time_rows(entries)
        assert {r["invoice_id"] for r in rows.values()} == {uuid.UUID(invoice["id"])}
        response = await books.gateway.delete(
            f"/v1/invoices/{invoice['id']}", headers=books.agency.headers
        )
        assert response.status_code == 204, response.text
        gone = await books.gateway.get(
            f"/v1/invoices/{invoice['id']}", headers=books.agency.headers
        )
        assert_problem(gone, 404)
        rows = await books.time_rows(entries)
        assert {r["invoice_id"] for r in rows.values()} == {None}
        again = await books.draft()
        assert sorted(time_entry_ids(again)) == sorted(entries)
        assert str(milestone) in {line["milestone_id"] for line in again["lines"]}

    async def test_a_sent_invoice_is_not_editable_or_deletable(self, books: Books) -> None:
        invoice = await books.sent((await books.manual_draft(5000))["id"])
        base = f"/v1/invoices/{invoice['id']}"
        headers = books.agency.headers
        attempts = [
            await books.gateway.patch(base, json={"notes": "x"}, headers=headers),
            await books.gateway.delete(base, headers=headers),
            await books.gateway.post(
                f"{base}/lines",
                json={"description": "x", "quantity": 1, "unit_price_cents": 1},
                headers=headers,
            ),
            await books.gateway.delete(
                f"{base}/lines/{invoice['lines'][0]['id']}", headers=headers
            ),
        ]
        for response in attempts:
            assert_problem(response, 409, "invoice-not-draft")


class TestVoid:
    async def test_void_releases_time_for_a_new_invoice_and_keeps_the_number(
        self, books: Books, seed_milestone: SeedMilestone, outbox_events: OutboxEvents
    ) -> None:
        entries = await books.time(3600, 2700, rate=10_000)
        milestone = await seed_milestone(books)
        draft = await books.draft()
        sent = await books.sent(draft["id"])
        rows = await books.time_rows(entries)
        assert {r["status"] for r in rows.values()} == {"invoiced"}

        response = await books.gateway.post(
            f"/v1/invoices/{draft['id']}/void",
            json={"reason": "Wrong client"},
            headers=books.agency.headers,
        )
        assert response.status_code == 200, response.text
        voided = response.json()
        assert voided["status"] == "void"
        assert voided["number"] == sent["number"]
        assert voided["void_reason"] == "Wrong client"
        assert voided["voided_at"] is not None
        rows = await books.time_rows(entries)
        assert {(r["invoice_id"], r["status"]) for r in rows.values()} == {(None, "approved")}

        [event] = await outbox_events(
            books.agency, "billing.invoice.voided", uuid.UUID(draft["id"])
        )
        assert event["data"]["number"] == sent["number"]
        assert event["data"]["reason"] == "Wrong client"
        assert event["tenantid"] == str(books.agency.agency_id)

        again = await books.draft()
        assert sorted(time_entry_ids(again)) == sorted(entries)
        assert str(milestone) in {line["milestone_id"] for line in again["lines"]}
        twice = await books.gateway.post(
            f"/v1/invoices/{draft['id']}/void", headers=books.agency.headers
        )
        assert_problem(twice, 409, "invoice-not-voidable")

    async def test_drafts_and_invoices_with_payments_cannot_be_voided(
        self, books: Books, seed_invoice: SeedInvoice
    ) -> None:
        draft = await books.manual_draft(1000)
        response = await books.gateway.post(
            f"/v1/invoices/{draft['id']}/void", headers=books.agency.headers
        )
        assert_problem(response, 409, "invoice-not-voidable")
        paid_some = await seed_invoice(
            books.agency,
            status="partially_paid",
            amount_paid_cents=500,
            client_id=books.client_id,
        )
        response = await books.gateway.post(
            f"/v1/invoices/{paid_some}/void", headers=books.agency.headers
        )
        assert_problem(response, 409, "invoice-not-voidable")


class TestPaymentTerms:
    async def test_a_draft_is_due_after_the_agencys_payment_terms(
        self, books: Books, write_billing_settings: WriteBillingSettings
    ) -> None:
        await write_billing_settings(books.agency, payment_terms_days=14)
        draft = await books.draft(include=[])
        assert draft["due_in_days"] == 14
        explicit = await books.draft(include=[], due_in_days=0)
        assert explicit["due_in_days"] == 0
