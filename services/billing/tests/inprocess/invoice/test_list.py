"""Reading invoices: the list with its filters, pages, sorting and totals by status and
currency (over every page), and one invoice with its lines."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta

import httpx

from agencyos.testing.http import assert_invalid_fields
from agencyos.testing.inprocess import Caller
from agencyos.testing.invoicing import Books

MakeBooks = Callable[..., Books]
SeedInvoice = Callable[..., Awaitable[uuid.UUID]]


class TestList:
    async def test_filters_pages_and_totals_by_status_and_currency(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        make_books: MakeBooks,
        seed_invoice: SeedInvoice,
    ) -> None:
        books = make_books(agency)
        other = make_books(agency, currency="USD")
        await books.manual_draft(1000)
        first = await books.sent((await books.manual_draft(2000))["id"])
        await books.sent((await books.manual_draft(3000))["id"])
        await other.sent((await other.manual_draft(700))["id"])
        # as the scheduler leaves a late one (the scheduler itself: the platform tier)
        late = await seed_invoice(
            agency,
            status="overdue",
            client_id=books.client_id,
            total_cents=4000,
            due_date=date.today() - timedelta(days=3),
            issue_date=date.today() - timedelta(days=33),
        )

        response = await billing.get("/v1/invoices", headers=agency.headers)
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

        page = await billing.get(
            "/v1/invoices",
            params={"per_page": 2, "page": 2, "sort": "total_cents"},
            headers=agency.headers,
        )
        assert [i["total_cents"] for i in page.json()["items"]] == [2000, 3000]
        assert len(page.json()["totals"]) == 4  # totals cover every page

        sent_eur = await billing.get(
            "/v1/invoices",
            params={"status": "sent", "client_id": str(books.client_id)},
            headers=agency.headers,
        )
        assert sent_eur.json()["total"] == 2
        assert [t["status"] for t in sent_eur.json()["totals"]] == ["sent"]

        overdue = await billing.get(
            "/v1/invoices", params={"overdue": "true"}, headers=agency.headers
        )
        assert [i["id"] for i in overdue.json()["items"]] == [str(late)]

        by_project = await billing.get(
            "/v1/invoices", params={"project_id": str(books.project_id)}, headers=agency.headers
        )
        assert by_project.json()["total"] == 0  # manual-only drafts name no project

        issued_today = await billing.get(
            "/v1/invoices",
            params={"issue_from": first["issue_date"], "issue_to": first["issue_date"]},
            headers=agency.headers,
        )
        assert issued_today.json()["total"] == 3

        bad = await billing.get(
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
