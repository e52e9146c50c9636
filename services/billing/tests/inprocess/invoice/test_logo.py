"""The invoice's logo (loaded only from data URLs or public https hosts, never fatal) and its
drawing into the PDF, without billing around it: identity accepts only https logo URLs, and
tests cannot serve https from a public address, so loading and drawing are exercised directly."""

from __future__ import annotations

import base64
import io
import uuid
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from PIL import Image

from agencyos.billing.invoice.logo import _public_host, load_logo
from agencyos.billing.invoice.pdf import Document, render
from agencyos.billing.models import Invoice, InvoiceLine


def png() -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (40, 20), (26, 115, 232)).save(buffer, format="PNG")
    return buffer.getvalue()


class TestLogo:
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
