"""The invoice PDF through the real gateway: the gateway passes billing's binary answer through
untouched, as a PDF with its file name. (What the PDF shows, the logo and who may read it are
billing's in-process tier.)"""

from __future__ import annotations

from agencyos.testing.invoicing import Books, pdf_text


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
