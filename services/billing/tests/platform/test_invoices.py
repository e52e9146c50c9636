"""Draft invoices after they are built, through the real gateway: manual lines, deleting and
voiding (which release time and milestones), lists with totals by status, validation, and
what other agencies and roles cannot do. (Building drafts: test_invoice_building.py.)"""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx

from agencyos.testing.billing import invoice_events, invoice_row, wait_for_invoice_event
from agencyos.testing.factories import (
    AgencySession,
    add_member,
    new_project,
    seed_invoice,
)
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.infra import wait_for
from agencyos.testing.invoicing import (
    Books,
    completed_milestone,
    line_figures,
    new_books,
    time_entry_ids,
    totals_of,
)
from agencyos.testing.platform import Platform

# --- editing, deleting, voiding --------------------------------------------------------------


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

    async def test_deleting_a_draft_releases_its_time_and_milestones(self, books: Books) -> None:
        entries = await books.time(3600, 1800)
        milestone = await completed_milestone(books)
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
        self, platform: Platform, books: Books
    ) -> None:
        entries = await books.time(3600, 2700, rate=10_000)
        milestone = await completed_milestone(books)
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

        records = await wait_for_invoice_event(
            platform, "billing.invoice.voided", uuid.UUID(draft["id"])
        )
        [event] = invoice_events(records, "billing.invoice.voided", uuid.UUID(draft["id"]))
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
        self, platform: Platform, books: Books
    ) -> None:
        draft = await books.manual_draft(1000)
        response = await books.gateway.post(
            f"/v1/invoices/{draft['id']}/void", headers=books.agency.headers
        )
        assert_problem(response, 409, "invoice-not-voidable")
        paid_some = await seed_invoice(
            platform,
            books.agency,
            status="partially_paid",
            amount_paid_cents=500,
            client_id=books.client_id,
        )
        response = await books.gateway.post(
            f"/v1/invoices/{paid_some}/void", headers=books.agency.headers
        )
        assert_problem(response, 409, "invoice-not-voidable")


# --- reads -----------------------------------------------------------------------------------


class TestList:
    async def test_filters_pages_and_totals_by_status_and_currency(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        books = await new_books(platform, gateway, agency)
        other = await new_books(platform, gateway, agency, currency="USD")
        await books.manual_draft(1000)
        first = await books.sent((await books.manual_draft(2000))["id"])
        await books.sent((await books.manual_draft(3000))["id"])
        await other.sent((await other.manual_draft(700))["id"])
        late = await seed_invoice(
            platform,
            agency,
            client_id=books.client_id,
            total_cents=4000,
            due_date=date.today() - timedelta(days=3),
            issue_date=date.today() - timedelta(days=33),
        )

        # The scheduler (a tick a second here) marks the late one overdue; wait for it, so
        # the totals below are not a race with it.
        async def marked_overdue() -> bool:
            return (await invoice_row(platform, agency, late))["status"] == "overdue"

        await wait_for(marked_overdue, timeout=30)

        response = await gateway.get("/v1/invoices", headers=agency.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == 5
        # one row per status (in lifecycle order) and currency
        assert body["totals"] == [
            {
                "status": "draft",
                "currency": "EUR",
                "count": 1,
                "total_cents": 1000,
                "amount_paid_cents": 0,
                "amount_due_cents": 1000,
            },
            {
                "status": "sent",
                "currency": "EUR",
                "count": 2,
                "total_cents": 5000,
                "amount_paid_cents": 0,
                "amount_due_cents": 5000,
            },
            {
                "status": "sent",
                "currency": "USD",
                "count": 1,
                "total_cents": 700,
                "amount_paid_cents": 0,
                "amount_due_cents": 700,
            },
            {
                "status": "overdue",
                "currency": "EUR",
                "count": 1,
                "total_cents": 4000,
                "amount_paid_cents": 0,
                "amount_due_cents": 4000,
            },
        ]

        page = await gateway.get(
            "/v1/invoices",
            params={"per_page": 2, "page": 2, "sort": "total_cents"},
            headers=agency.headers,
        )
        assert [i["total_cents"] for i in page.json()["items"]] == [2000, 3000]
        assert len(page.json()["totals"]) == 4  # totals cover every page

        sent_eur = await gateway.get(
            "/v1/invoices",
            params={"status": "sent", "client_id": str(books.client_id)},
            headers=agency.headers,
        )
        assert sent_eur.json()["total"] == 2
        assert [t["status"] for t in sent_eur.json()["totals"]] == ["sent"]

        overdue = await gateway.get(
            "/v1/invoices", params={"overdue": "true"}, headers=agency.headers
        )
        assert [i["id"] for i in overdue.json()["items"]] == [str(late)]

        by_project = await gateway.get(
            "/v1/invoices", params={"project_id": str(books.project_id)}, headers=agency.headers
        )
        assert by_project.json()["total"] == 0  # manual-only drafts name no project

        issued_today = await gateway.get(
            "/v1/invoices",
            params={"issue_from": first["issue_date"], "issue_to": first["issue_date"]},
            headers=agency.headers,
        )
        assert issued_today.json()["total"] == 3

        bad = await gateway.get(
            "/v1/invoices",
            params={"due_from": "2026-12-02", "due_to": "2026-12-01"},
            headers=agency.headers,
        )
        assert_invalid_fields(bad, "due_to")

    async def test_get_shows_the_lines(self, books: Books) -> None:
        invoice = await books.manual_draft(1000, 2000)
        response = await books.gateway.get(
            f"/v1/invoices/{invoice['id']}", headers=books.agency.headers
        )
        assert response.status_code == 200, response.text
        assert [line["amount_cents"] for line in response.json()["lines"]] == [1000, 2000]
        assert response.json()["amount_due_cents"] == 3000


# --- validation ------------------------------------------------------------------------------


class TestValidation:
    async def test_bad_fields_are_named(self, books: Books) -> None:
        assert_invalid_fields(await books.create(include=["hours"]), "include.0")
        assert_invalid_fields(await books.create(group_by="client"), "group_by")
        assert_invalid_fields(await books.create(due_in_days=400), "due_in_days")
        assert_invalid_fields(await books.create(currency="euro"), "currency")
        assert_invalid_fields(await books.create(currency="XXX"), "currency")
        assert_invalid_fields(await books.create(tax_rate_bps=10_001), "tax_rate_bps")
        assert_invalid_fields(
            await books.create(period_from="2026-11-30", period_to="2026-11-01"), "period_to"
        )
        assert_invalid_fields(await books.create(surprise=1), "surprise")
        missing = await books.gateway.post(
            "/v1/invoices", json={"include": []}, headers=books.agency.headers
        )
        assert_invalid_fields(missing, "client_id")

    async def test_unknown_client_and_foreign_projects(
        self, books: Books, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        unknown = await gateway.post(
            "/v1/invoices", json={"client_id": str(uuid.uuid4())}, headers=agency.headers
        )
        assert_invalid_fields(unknown, "client_id")
        elsewhere = await new_project(gateway, agency, currency="EUR")
        foreign = await books.create(project_ids=[elsewhere["id"]])
        assert_invalid_fields(foreign, "project_ids")

    async def test_bad_lines(self, books: Books) -> None:
        invoice = await books.draft(include=[])
        url = f"/v1/invoices/{invoice['id']}/lines"
        headers = books.agency.headers
        for body, field in [
            ({"description": "x", "quantity": 0, "unit_price_cents": 1}, "quantity"),
            ({"description": "x", "quantity": "1.00001", "unit_price_cents": 1}, "quantity"),
            ({"description": "", "quantity": 1, "unit_price_cents": 1}, "description"),
            ({"description": "x", "quantity": 1, "unit_price_cents": 10**11}, "unit_price_cents"),
            ({"description": "x", "quantity": 1, "unit_price_cents": "5"}, "unit_price_cents"),
            (
                {"description": "x", "quantity": 1, "unit_price_cents": 1, "tax_rate_bps": -1},
                "tax_rate_bps",
            ),
        ]:
            assert_invalid_fields(await books.gateway.post(url, json=body, headers=headers), field)
        # each line fits, but the invoice's total may not run past 10**15 minor units
        huge = {"description": "x", "quantity": "99999999", "unit_price_cents": 10**10}
        assert_invalid_fields(
            await books.gateway.post(url, json=huge, headers=headers), "unit_price_cents"
        )
        still = await books.gateway.get(f"/v1/invoices/{invoice['id']}", headers=headers)
        assert still.json()["lines"] == []
        unknown_line = await books.gateway.patch(
            f"{url}/{uuid.uuid4()}", json={"description": "y"}, headers=headers
        )
        assert_problem(unknown_line, 404)


# --- who may ---------------------------------------------------------------------------------


class TestAccess:
    async def test_members_and_client_users_see_no_invoices(
        self, platform: Platform, books: Books, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        invoice = await books.manual_draft(1000)
        for role in ("member", "client"):
            who = await add_member(platform, gateway, agency, role)
            for response in [
                await gateway.get("/v1/invoices", headers=who.headers),
                await gateway.get(f"/v1/invoices/{invoice['id']}", headers=who.headers),
                await gateway.get(f"/v1/invoices/{invoice['id']}/pdf", headers=who.headers),
                await books.create(who=who),
                await gateway.post(f"/v1/invoices/{invoice['id']}/send", headers=who.headers),
                await gateway.post(f"/v1/invoices/{invoice['id']}/void", headers=who.headers),
                await gateway.delete(f"/v1/invoices/{invoice['id']}", headers=who.headers),
            ]:
                assert_problem(response, 403, "permission-denied")

    async def test_a_manager_may(
        self, platform: Platform, books: Books, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        await books.time(3600)
        response = await books.create(who=manager)
        assert response.status_code == 201, response.text

    async def test_another_agencys_invoices_answer_404(
        self, books: Books, gateway: httpx.AsyncClient, other_agency: AgencySession
    ) -> None:
        invoice = await books.manual_draft(1000)
        line = invoice["lines"][0]["id"]
        base = f"/v1/invoices/{invoice['id']}"
        headers = other_agency.headers
        for response in [
            await gateway.get(base, headers=headers),
            await gateway.get(f"{base}/pdf", headers=headers),
            await gateway.patch(base, json={"notes": "mine"}, headers=headers),
            await gateway.delete(base, headers=headers),
            await gateway.post(f"{base}/send", headers=headers),
            await gateway.post(f"{base}/void", headers=headers),
            await gateway.post(
                f"{base}/lines",
                json={"description": "x", "quantity": 1, "unit_price_cents": 1},
                headers=headers,
            ),
            await gateway.patch(f"{base}/lines/{line}", json={"description": "x"}, headers=headers),
            await gateway.delete(f"{base}/lines/{line}", headers=headers),
        ]:
            assert_problem(response, 404)
        listed = await gateway.get("/v1/invoices", headers=headers)
        assert listed.json()["total"] == 0
        assert listed.json()["totals"] == []
        still = await gateway.get(base, headers=books.agency.headers)
        assert still.json()["notes"] is None
        assert still.json()["status"] == "draft"

    async def test_another_agencys_client_cannot_be_invoiced(
        self, books: Books, gateway: httpx.AsyncClient, other_agency: AgencySession
    ) -> None:
        entries = await books.time(3600)
        response = await gateway.post(
            "/v1/invoices", json={"client_id": str(books.client_id)}, headers=other_agency.headers
        )
        assert_invalid_fields(response, "client_id")
        rows = await books.time_rows(entries)
        assert {r["invoice_id"] for r in rows.values()} == {None}
