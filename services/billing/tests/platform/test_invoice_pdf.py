"""The invoice PDF through the real gateway: the gateway passes billing's binary answer through
untouched, as a PDF with its file name, and lets the signed link emailed to the client through
without a token. (What the PDF shows, the logo, who may read it and the link's rules are
billing's in-process tier.)"""

from __future__ import annotations

import json
from urllib.parse import urlsplit

from agencyos.testing.http import assert_problem
from agencyos.testing.invoicing import Books, pdf_text
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows


class TestThroughTheGateway:
    async def test_a_draft_comes_through_as_a_pdf_named_as_a_draft(self, books: Books) -> None:
        draft = await books.manual_draft(1000)

        response = await books.gateway.get(
            f"/v1/invoices/{draft['id']}/pdf", headers=books.agency.headers
        )

        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert f'filename="draft-{draft["id"]}.pdf"' in response.headers["content-disposition"]
        assert response.content.startswith(b"%PDF-")
        assert response.content.rstrip().endswith(b"%%EOF")
        assert b"Invoice \\(draft\\)" in pdf_text(response.content)


class TestTheSignedLinkThroughTheGateway:
    async def test_the_link_in_the_sent_event_opens_the_pdf_without_a_token(
        self, platform: Platform, books: Books
    ) -> None:
        invoice = await books.sent((await books.manual_draft(1000))["id"])
        [row] = await fetch_rows(
            platform.infra,
            platform.database("billing"),
            "SELECT envelope FROM outbox WHERE event_type = 'billing.invoice.sent' "
            "AND envelope->>'subject' = $1",
            f"invoices/{invoice['id']}",
            tenant_id=books.agency.agency_id,
            owner=True,
        )
        url = urlsplit(json.loads(row["envelope"])["data"]["document_url"])
        link = f"{url.path}?{url.query}"

        response = await books.gateway.get(link)
        tampered = await books.gateway.get(link.replace("signature=", "signature=0"))

        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/pdf"
        assert invoice["number"].encode() in pdf_text(response.content)
        assert_problem(tampered, 403, "document-link-invalid")
