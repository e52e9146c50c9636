"""Who may do what with invoices: members and client users see none, a manager may invoice,
another agency's invoices answer 404 (and its lists are empty), and another agency's client
cannot be invoiced."""

from __future__ import annotations

import httpx

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller
from agencyos.testing.invoicing import Books


class TestAccess:
    async def test_members_and_client_users_see_no_invoices(
        self, books: Books, billing: httpx.AsyncClient, tenant: Agency
    ) -> None:
        invoice = await books.manual_draft(1000)
        for role in ("member", "client"):
            who = tenant.caller(role)
            for response in [
                await billing.get("/v1/invoices", headers=who.headers),
                await billing.get(f"/v1/invoices/{invoice['id']}", headers=who.headers),
                await billing.get(f"/v1/invoices/{invoice['id']}/pdf", headers=who.headers),
                await books.create(who=who),
                await billing.post(f"/v1/invoices/{invoice['id']}/send", headers=who.headers),
                await billing.post(f"/v1/invoices/{invoice['id']}/void", headers=who.headers),
                await billing.delete(f"/v1/invoices/{invoice['id']}", headers=who.headers),
            ]:
                assert_problem(response, 403, "permission-denied")

    async def test_a_manager_may(self, books: Books, tenant: Agency) -> None:
        manager = tenant.caller("manager")
        await books.time(3600)
        response = await books.create(who=manager)
        assert response.status_code == 201, response.text

    async def test_another_agencys_invoices_answer_404(
        self, books: Books, billing: httpx.AsyncClient, other_agency: Caller
    ) -> None:
        invoice = await books.manual_draft(1000)
        line = invoice["lines"][0]["id"]
        base = f"/v1/invoices/{invoice['id']}"
        headers = other_agency.headers
        for response in [
            await billing.get(base, headers=headers),
            await billing.get(f"{base}/pdf", headers=headers),
            await billing.patch(base, json={"notes": "mine"}, headers=headers),
            await billing.delete(base, headers=headers),
            await billing.post(f"{base}/send", headers=headers),
            await billing.post(f"{base}/void", headers=headers),
            await billing.post(
                f"{base}/lines",
                json={"description": "x", "quantity": 1, "unit_price_cents": 1},
                headers=headers,
            ),
            await billing.patch(f"{base}/lines/{line}", json={"description": "x"}, headers=headers),
            await billing.delete(f"{base}/lines/{line}", headers=headers),
        ]:
            assert_problem(response, 404)
        listed = await billing.get("/v1/invoices", headers=headers)
        assert listed.json()["total"] == 0
        assert listed.json()["totals"] == []
        still = await billing.get(base, headers=books.agency.headers)
        assert still.json()["notes"] is None
        assert still.json()["status"] == "draft"

    async def test_another_agencys_client_cannot_be_invoiced(
        self, books: Books, billing: httpx.AsyncClient, other_agency: Caller
    ) -> None:
        entries = await books.time(3600)
        response = await billing.post(
            "/v1/invoices", json={"client_id": str(books.client_id)}, headers=other_agency.headers
        )
        assert_invalid_fields(response, "client_id")
        rows = await books.time_rows(entries)
        assert {r["invoice_id"] for r in rows.values()} == {None}
