"""The invoice PDF through the real gateway (rendered by billing with fpdf2): a valid PDF with
the agency's branding and billing settings, the client and its address, number, dates, lines,
tax, totals and payment link; the logo (from data URLs, never from a host billing must not
fetch, never fatal); and who may read it."""

from __future__ import annotations

import base64
import io
import re
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import httpx
import pytest
from PIL import Image

from agencyos.billing.invoice.logo import _public_host, load_logo
from agencyos.billing.invoice.pdf import Document, render
from agencyos.billing.models import Invoice, InvoiceLine
from agencyos.testing.factories import AgencySession, add_member
from agencyos.testing.http import assert_problem
from agencyos.testing.invoicing import Books, new_books, pdf_text
from agencyos.testing.platform import Platform


async def write_billing_settings(
    platform: Platform, agency: AgencySession, **values: object
) -> None:
    """The agency's billing settings row, written straight into billing's database (the
    settings API is another part of billing; the PDF only reads them)."""
    columns = ", ".join(["tenant_id", *values])
    params = ", ".join(f"${i}" for i in range(1, len(values) + 2))
    conn = await platform.infra.raw(platform.database("billing"), owner=True)
    try:
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('app.tenant_id', $1, true)", str(agency.agency_id)
            )
            await conn.execute(
                f"INSERT INTO billing_settings ({columns}) VALUES ({params})",
                agency.agency_id,
                *values.values(),
            )
    finally:
        await conn.close()


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), (26, 115, 232)).save(buffer, format="PNG")
    return buffer.getvalue()


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
async def books(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Books:
    changed = await gateway.patch(
        "/v1/agency",
        json={"name": "Northwind Studio", "brand_color": "#1A73E8", "default_tax_rate_bps": 1900},
        headers=agency.headers,
    )
    assert changed.status_code == 200, changed.text
    books = await new_books(
        platform,
        gateway,
        agency,
        company_name="Acme Widgets GmbH",
        address_line1="Hauptstrasse 5",
        city="Berlin",
        postal_code="10115",
        country="DE",
    )
    contact = await gateway.post(
        f"/v1/clients/{books.client_id}/contacts",
        json={"name": "Jane Payer", "email": "jane@acme.example", "is_primary": True},
        headers=agency.headers,
    )
    assert contact.status_code == 201, contact.text
    return books


class TestPdf:
    async def test_a_sent_invoice_shows_everything_the_client_needs(
        self, platform: Platform, books: Books
    ) -> None:
        await write_billing_settings(
            platform,
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
        self, books: Books, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        changed = await gateway.patch(
            "/v1/agency", json={"logo_url": "https://127.0.0.1:1/logo.png"}, headers=agency.headers
        )
        assert changed.status_code == 200, changed.text
        draft = await books.manual_draft(1000)
        response = await fetch_pdf(books, draft["id"])
        assert b"/Subtype /Image" not in response.content

    async def test_non_latin_text_does_not_break_the_document(self, books: Books) -> None:
        draft = await books.draft(include=[], notes="Danke \u2014 \u0141\u00f3d\u017a \u6771\u4eac")
        response = await fetch_pdf(books, draft["id"])
        text = pdf_text(response.content)
        assert re.search(rb"Danke - L\xf3dz \?\?", text), text[-400:]

    async def test_who_may_read_it(
        self,
        platform: Platform,
        books: Books,
        gateway: httpx.AsyncClient,
        other_agency: AgencySession,
    ) -> None:
        draft = await books.manual_draft(1000)
        member = await add_member(platform, gateway, books.agency, "member")
        denied = await gateway.get(f"/v1/invoices/{draft['id']}/pdf", headers=member.headers)
        assert_problem(denied, 403)
        foreign = await gateway.get(f"/v1/invoices/{draft['id']}/pdf", headers=other_agency.headers)
        assert_problem(foreign, 404)
        missing = await gateway.get(
            f"/v1/invoices/{uuid.uuid4()}/pdf", headers=books.agency.headers
        )
        assert_problem(missing, 404)


class TestPaymentTerms:
    async def test_a_draft_is_due_after_the_agencys_payment_terms(
        self, platform: Platform, books: Books
    ) -> None:
        await write_billing_settings(platform, books.agency, payment_terms_days=14)
        draft = await books.draft(include=[])
        assert draft["due_in_days"] == 14
        explicit = await books.draft(include=[], due_in_days=0)
        assert explicit["due_in_days"] == 0


class TestLogo:
    """The logo path without the platform: identity accepts only https logo URLs, and tests
    cannot serve https from a public address, so loading and drawing are exercised directly."""

    async def test_a_data_url_png_is_loaded_and_drawn(self) -> None:
        image = png()
        loaded = await load_logo("data:image/png;base64," + base64.b64encode(image).decode())
        assert loaded == image
        document = render(sample_document(logo=loaded, brand_color="#1A73E8"), compress=False)
        assert b"/Subtype /Image" in document
        assert b"0.102 0.451 0.9098 rg" in document
        assert b"/Subtype /Image" not in render(sample_document(logo=None), compress=False)

    @pytest.mark.parametrize(
        "url",
        [
            "data:image/svg+xml;base64,PHN2Zz48L3N2Zz4=",
            "data:image/png;base64,bm90IGEgcG5n",
            "https://127.0.0.1:1/logo.png",
            "https://localhost/logo.png",
            "http://example.com/logo.png",
            "file:///etc/passwd",
            "",
        ],
    )
    async def test_anything_else_is_no_logo(self, url: str) -> None:
        assert await load_logo(url) is None

    @pytest.mark.parametrize(
        ("host", "public"),
        [
            ("127.0.0.1", False),
            ("localhost", False),
            ("10.0.0.8", False),
            ("169.254.169.254", False),
            ("::1", False),
            ("93.184.215.14", True),
        ],
    )
    async def test_only_public_hosts_are_fetched_from(self, host: str, public: bool) -> None:
        assert await _public_host(host, 443) is public

    def test_a_broken_image_is_left_out_not_fatal(self) -> None:
        document = render(sample_document(logo=b"\x89PNG\r\n\x1a\nbroken"), compress=False)
        assert document.startswith(b"%PDF-")
        assert b"/Subtype /Image" not in document


def sample_document(**fields: Any) -> Document:
    tenant = uuid.uuid4()
    invoice = Invoice(
        tenant_id=tenant,
        id=uuid.uuid4(),
        client_id=uuid.uuid4(),
        project_ids=[],
        number="INV-0001",
        status="sent",
        currency="EUR",
        issue_date=date(2026, 12, 1),
        due_date=date(2026, 12, 31),
        due_in_days=30,
        subtotal_cents=1000,
        tax_cents=190,
        total_cents=1190,
        amount_paid_cents=0,
        payment_url="https://checkout.stripe.com/pay/c/cs_test_1",
    )
    line = InvoiceLine(
        tenant_id=tenant,
        id=uuid.uuid4(),
        invoice_id=invoice.id,
        position=1,
        description="Work",
        quantity=Decimal(1),
        unit_price_cents=1000,
        amount_cents=1000,
        tax_rate_bps=1900,
        tax_cents=190,
        source_type="manual",
        time_entry_ids=[],
    )
    values: dict[str, Any] = {
        "invoice": invoice,
        "lines": [line],
        "agency_name": "Northwind Studio",
        "brand_color": None,
        "logo": None,
        "sender_address": None,
        "tax_number": None,
        "footer": None,
        "client_name": "Acme",
        "client_contact": None,
        "client_email": None,
        "client_address": (),
        **fields,
    }
    return Document(**values)
