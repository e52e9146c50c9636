"""The invoice PDF (rendered by billing with fpdf2): a valid PDF with the agency's branding and
billing settings, the client and its address, number, dates, lines, tax, totals and payment
link; a draft marked as one; a logo on a host billing must not fetch left out; text outside
Latin-1 never breaks it; and who may read it. The agency is identity's answer and the client
CRM's (the stand-ins); the time billed is approved through time's own API."""

from __future__ import annotations

import re
import uuid
from collections.abc import Awaitable, Callable

import httpx
import pytest

from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.invoicing import Books, pdf_text

MakeBooks = Callable[..., Books]
WriteBillingSettings = Callable[..., Awaitable[None]]


async def fetch_pdf(books: Books, invoice_id: str) -> httpx.Response:
    response = await books.gateway.get(
        f"/v1/invoices/{invoice_id}/pdf", headers=books.agency.headers
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    assert response.content.rstrip().endswith(b"%%EOF")
    return response


@pytest.fixture
def books(in_process: InProcess, make_books: MakeBooks, agency: Caller) -> Books:
    """Books of a branded agency with 19 % default tax, for a client with a billing address
    and a primary contact (as identity and CRM answer them)."""
    in_process.standins.identity.update_agency(
        agency.agency_id, name="Northwind Studio", brand_color="#1A73E8", default_tax_rate_bps=1900
    )
    books = make_books(agency)
    client = in_process.standins.crm.clients[(agency.agency_id, books.client_id)]
    client.company_name = "Acme Widgets GmbH"
    client.address_line1 = "Hauptstrasse 5"
    client.city = "Berlin"
    client.postal_code = "10115"
    client.country = "DE"
    client.primary_contact_name = "Jane Payer"
    client.primary_contact_email = "jane@acme.example"
    return books


class TestPdf:
    async def test_a_sent_invoice_shows_everything_the_client_needs(
        self, books: Books, write_billing_settings: WriteBillingSettings
    ) -> None:
        await write_billing_settings(
            books.agency,
            sender_address="Northwind Studio\nKantstrasse 1\n10623 Berlin",
            tax_number="DE123456789",
            invoice_footer="IBAN DE00 1234 5678",
        )
        # 1h20m + 45m + 2h at 123.45/h = 504.09; 19 % tax = 95.78; total 599.87
        await books.time(4800, 2700, 7200, rate=12_345)
        invoice = await books.sent((await books.draft(notes="Thank you!"))["id"])
        response = await fetch_pdf(books, invoice["id"])
        assert response.headers["content-disposition"] == (
            f'inline; filename="{invoice["number"]}.pdf"'
        )
        text = pdf_text(response.content)
        for expected in [
            invoice["number"],
            "Northwind Studio",
            "Kantstrasse 1",
            "Tax number: DE123456789",
            "IBAN DE00 1234 5678",
            "Acme Widgets GmbH",
            "Attn. Jane Payer",
            "Hauptstrasse 5",
            "10115 Berlin",
            "jane@acme.example",
            invoice["issue_date"],
            invoice["due_date"],
            "4.0833",
            "123.45 EUR",
            "504.09 EUR",
            "95.78 EUR",
            "599.87 EUR",
            "Tax 19 %",
            invoice["payment_url"],
            "Thank you!",
        ]:
            assert expected.encode("latin-1") in text, expected
        # the brand colour #1A73E8 fills the band and the table header
        assert b"0.102 0.451 0.9098 rg" in text

    async def test_a_draft_is_marked_and_named_as_a_draft(self, books: Books) -> None:
        draft = await books.manual_draft(1000)
        response = await fetch_pdf(books, draft["id"])
        assert f'filename="draft-{draft["id"]}.pdf"' in response.headers["content-disposition"]
        text = pdf_text(response.content)
        assert b"DRAFT" in text
        assert b"Invoice \\(draft\\)" in text  # parentheses are escaped in PDF strings
        assert b"11.90 EUR" in text  # 10.00 + 19 % default tax

    async def test_a_logo_on_a_private_host_is_left_out(
        self, in_process: InProcess, books: Books, agency: Caller
    ) -> None:
        in_process.standins.identity.update_agency(
            agency.agency_id, logo_url="https://127.0.0.1:1/logo.png"
        )
        draft = await books.manual_draft(1000)
        response = await fetch_pdf(books, draft["id"])
        assert b"/Subtype /Image" not in response.content

    async def test_non_latin_text_does_not_break_the_document(self, books: Books) -> None:
        draft = await books.draft(include=[], notes="Danke \u2014 \u0141\u00f3d\u017a \u6771\u4eac")
        response = await fetch_pdf(books, draft["id"])
        text = pdf_text(response.content)
        assert re.search(rb"Danke - L\xf3dz \?\?", text), text[-400:]

    async def test_who_may_read_it(
        self, billing: httpx.AsyncClient, tenant: Agency, books: Books, other_agency: Caller
    ) -> None:
        draft = await books.manual_draft(1000)
        member = tenant.caller("member")
        denied = await billing.get(f"/v1/invoices/{draft['id']}/pdf", headers=member.headers)
        assert_problem(denied, 403)
        foreign = await billing.get(f"/v1/invoices/{draft['id']}/pdf", headers=other_agency.headers)
        assert_problem(foreign, 404)
        missing = await billing.get(
            f"/v1/invoices/{uuid.uuid4()}/pdf", headers=books.agency.headers
        )
        assert_problem(missing, 404)
