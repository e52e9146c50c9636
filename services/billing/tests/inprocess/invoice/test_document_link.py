"""The signed link to a sent invoice's PDF (`billing.invoice.sent`'s `document_url`), which
needs no login: it answers the same PDF as the signed-in `/pdf`, and attacker-style, a link
changed in any part (signature, invoice, agency, expiry) is refused with 403, an expired one
with 410, and even a link signed with billing's key shows nothing of another agency, nor a
draft or a void invoice."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest

from agencyos.billing.invoice.document_link import DocumentLinks
from agencyos.billing.settings import BillingSettings
from agencyos.common.db import utcnow
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Caller, InProcess, ServiceInProcess
from agencyos.testing.invoicing import Books, pdf_text

OutboxEvents = Callable[[Caller, str, uuid.UUID], Awaitable[list[dict[str, Any]]]]
MakeBooks = Callable[..., Books]


@pytest.fixture
def links(billing_service: ServiceInProcess) -> DocumentLinks:
    """billing's own signer (its development key): what only billing can make."""
    settings = billing_service.settings
    assert isinstance(settings, BillingSettings)
    return DocumentLinks.of(settings)


async def document_url(outbox_events: OutboxEvents, who: Caller, invoice_id: str) -> str:
    [event] = await outbox_events(who, "billing.invoice.sent", uuid.UUID(invoice_id))
    url: str = event["data"]["document_url"]
    return url


def path_of(url: str) -> str:
    """The link as the gateway forwards it: path and query."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def changed(url: str, **params: str) -> str:
    """The link with some of its query parameters replaced."""
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query.update(params)
    return f"{parts.path}?{urlencode(query)}"


def signed(
    links: DocumentLinks, tenant_id: uuid.UUID, invoice_id: str, *, expires: int | None = None
) -> str:
    """A link made with billing's key itself, for any agency, invoice and expiry."""
    when = expires if expires is not None else int((utcnow() + timedelta(days=1)).timestamp())
    query = urlencode(
        {
            "tenant_id": str(tenant_id),
            "expires": when,
            "signature": links.signature(tenant_id, uuid.UUID(invoice_id), when),
        }
    )
    return f"/v1/invoices/{invoice_id}/document?{query}"


@pytest.fixture
async def sent(books: Books) -> dict[str, Any]:
    return await books.sent((await books.manual_draft(10_000))["id"])


class TestTheLink:
    async def test_the_sent_event_links_to_the_pdf_for_the_configured_days_on_the_gateway(
        self, agency: Caller, sent: dict[str, Any], outbox_events: OutboxEvents
    ) -> None:
        url = await document_url(outbox_events, agency, sent["id"])

        parts = urlsplit(url)
        assert f"{parts.scheme}://{parts.netloc}" == "http://127.0.0.1:8080"
        assert parts.path == f"/v1/invoices/{sent['id']}/document"
        query = parse_qs(parts.query)
        assert query["tenant_id"] == [str(agency.agency_id)]
        assert len(query["signature"][0]) == 64
        valid_for = int(query["expires"][0]) - utcnow().timestamp()
        assert timedelta(days=60) - timedelta(minutes=5) < timedelta(seconds=valid_for)
        assert timedelta(seconds=valid_for) <= timedelta(days=60)

    async def test_it_answers_the_same_pdf_as_the_signed_in_endpoint_without_a_token(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        sent: dict[str, Any],
        outbox_events: OutboxEvents,
    ) -> None:
        url = await document_url(outbox_events, agency, sent["id"])

        linked = await billing.get(path_of(url))
        signed_in = await billing.get(f"/v1/invoices/{sent['id']}/pdf", headers=agency.headers)

        assert linked.status_code == 200, linked.text
        assert linked.headers["content-type"] == "application/pdf"
        assert linked.headers["content-disposition"] == (f'inline; filename="{sent["number"]}.pdf"')
        assert linked.content.startswith(b"%PDF-")
        assert pdf_text(linked.content) == pdf_text(signed_in.content)
        assert sent["number"].encode() in pdf_text(linked.content)

    async def test_it_shows_the_invoice_as_sent_whatever_crm_says_later(
        self,
        in_process: InProcess,
        billing: httpx.AsyncClient,
        books: Books,
        agency: Caller,
        outbox_events: OutboxEvents,
    ) -> None:
        client = in_process.standins.crm.clients[(agency.agency_id, books.client_id)]
        client.company_name = "Acme Widgets GmbH"
        invoice = await books.sent((await books.manual_draft(10_000))["id"])
        client.company_name = "Renamed Later Ltd"

        linked = await billing.get(
            path_of(await document_url(outbox_events, agency, invoice["id"]))
        )
        signed_in = await billing.get(f"/v1/invoices/{invoice['id']}/pdf", headers=agency.headers)

        assert b"Acme Widgets GmbH" in pdf_text(linked.content)
        assert pdf_text(linked.content) == pdf_text(signed_in.content)

    async def test_it_still_works_once_the_invoice_is_paid(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        sent: dict[str, Any],
        outbox_events: OutboxEvents,
    ) -> None:
        paid = await billing.post(
            f"/v1/invoices/{sent['id']}/payments",
            json={"amount_cents": sent["total_cents"], "method": "bank_transfer"},
            headers=agency.headers,
        )
        assert paid.status_code == 201, paid.text

        linked = await billing.get(path_of(await document_url(outbox_events, agency, sent["id"])))

        assert linked.status_code == 200, linked.text


class TestTampering:
    @pytest.mark.parametrize("part", ["signature", "expires", "tenant_id"])
    async def test_a_link_changed_in_any_part_is_refused(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        other_agency: Caller,
        sent: dict[str, Any],
        outbox_events: OutboxEvents,
        part: str,
    ) -> None:
        url = await document_url(outbox_events, agency, sent["id"])
        signature = parse_qs(urlsplit(url).query)["signature"][0]
        replacement = {
            "signature": ("0" if signature[0] != "0" else "1") + signature[1:],
            "expires": str(int(utcnow().timestamp()) + 10 * 365 * 86400),
            "tenant_id": str(other_agency.agency_id),
        }[part]

        response = await billing.get(changed(url, **{part: replacement}))

        assert_problem(response, 403, "document-link-invalid")

    async def test_another_invoices_id_under_a_valid_signature_is_refused(
        self,
        billing: httpx.AsyncClient,
        books: Books,
        agency: Caller,
        sent: dict[str, Any],
        outbox_events: OutboxEvents,
    ) -> None:
        other = await books.sent((await books.manual_draft(20_000))["id"])
        url = await document_url(outbox_events, agency, sent["id"])

        response = await billing.get(path_of(url).replace(sent["id"], other["id"]))

        assert_problem(response, 403, "document-link-invalid")

    @pytest.mark.parametrize(
        "query",
        [
            "",
            "expires=1&signature=ab",
            "tenant_id=not-a-uuid&expires=1&signature=ab",
            "tenant_id={tenant}&expires=soon&signature=ab",
        ],
    )
    async def test_a_link_missing_or_garbling_its_parts_is_a_422(
        self, billing: httpx.AsyncClient, agency: Caller, sent: dict[str, Any], query: str
    ) -> None:
        response = await billing.get(
            f"/v1/invoices/{sent['id']}/document?" + query.format(tenant=agency.agency_id)
        )

        assert_problem(response, 422)

    async def test_a_signature_that_is_not_hex_is_refused_not_a_500(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        sent: dict[str, Any],
        outbox_events: OutboxEvents,
    ) -> None:
        url = await document_url(outbox_events, agency, sent["id"])

        response = await billing.get(changed(url, signature="\u00e9" * 64))

        assert_problem(response, 403, "document-link-invalid")


class TestExpiry:
    async def test_an_expired_link_is_gone(
        self, billing: httpx.AsyncClient, links: DocumentLinks, agency: Caller, sent: dict[str, Any]
    ) -> None:
        past = int((utcnow() - timedelta(seconds=1)).timestamp())

        response = await billing.get(signed(links, agency.agency_id, sent["id"], expires=past))

        assert_problem(response, 410, "document-link-expired")


class TestWhatALinkCanShow:
    async def test_even_a_signed_link_never_shows_another_agencys_invoice(
        self,
        billing: httpx.AsyncClient,
        links: DocumentLinks,
        make_books: MakeBooks,
        agency: Caller,
        other_agency: Caller,
    ) -> None:
        theirs = make_books(other_agency)
        invoice = await theirs.sent((await theirs.manual_draft(10_000))["id"])

        # signed for this agency, naming the other agency's invoice: read under this agency
        response = await billing.get(signed(links, agency.agency_id, invoice["id"]))

        assert_problem(response, 404)

    async def test_a_draft_is_never_shown(
        self, billing: httpx.AsyncClient, links: DocumentLinks, books: Books, agency: Caller
    ) -> None:
        draft = await books.manual_draft(10_000)

        response = await billing.get(signed(links, agency.agency_id, draft["id"]))

        assert_problem(response, 404)

    async def test_a_void_invoice_is_no_longer_shown(
        self,
        billing: httpx.AsyncClient,
        agency: Caller,
        sent: dict[str, Any],
        outbox_events: OutboxEvents,
    ) -> None:
        voided = await billing.post(f"/v1/invoices/{sent['id']}/void", headers=agency.headers)
        assert voided.status_code == 200, voided.text

        response = await billing.get(path_of(await document_url(outbox_events, agency, sent["id"])))

        assert_problem(response, 404)

    async def test_a_missing_invoice_is_404(
        self, billing: httpx.AsyncClient, links: DocumentLinks, agency: Caller
    ) -> None:
        response = await billing.get(signed(links, agency.agency_id, str(uuid.uuid4())))

        assert_problem(response, 404)
