"""What an invoice's PDF shows: the invoice and its lines, the agency's billing settings, and
the two parties, the agency (identity's name, brand colour and logo) and the client (CRM's
company name, primary contact and billing address).

A sent invoice shows the parties as they were when it was sent (kept on the invoice by
`keep_parties`): what was sent does not change afterwards, and the signed link that needs no
login (no token to ask identity or CRM with) answers the same document as the signed-in
caller gets. A draft, or an invoice sent before the parties were kept, shows them as the
peers answer now."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.invoice.logo import load_logo
from agencyos.billing.invoice.parties import Parties, kept_parties, parties_now
from agencyos.billing.invoice.pdf import Document
from agencyos.billing.invoice.repository import invoice_repository
from agencyos.billing.invoice.service import InvoiceView, invoice_service
from agencyos.billing.invoice.status import InvoiceStatus
from agencyos.billing.peers import Peers
from agencyos.common.auth import Principal
from agencyos.common.errors import NotFound

# What a signed link may show: invoices that went out (never a draft, never a void one).
LINKABLE = frozenset(
    {InvoiceStatus.SENT, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.PAID, InvoiceStatus.OVERDUE}
)


class DocumentService:
    async def document(
        self, session: AsyncSession, principal: Principal, peers: Peers, invoice_id: uuid.UUID
    ) -> Document:
        """The PDF's content for a signed-in caller (`invoices.read`)."""
        view = await invoice_service.get(session, principal, invoice_id)
        parties = kept_parties(view.invoice)
        if parties is None:
            agency = await peers.identity.agency(principal)
            client = await peers.crm.client(principal, view.invoice.client_id)
            parties = parties_now(agency, client)
        return await self.compose(session, view, parties)

    async def linked_document(self, session: AsyncSession, invoice_id: uuid.UUID) -> Document:
        """The PDF's content for a signed link (the session is under the link's agency): only
        an invoice that went out, with its parties kept."""
        invoice = await invoice_repository.get(session, invoice_id)
        parties = kept_parties(invoice) if invoice is not None else None
        if invoice is None or invoice.status not in LINKABLE or parties is None:
            raise NotFound("no such invoice")
        lines = await invoice_repository.lines(session, invoice.id)
        return await self.compose(session, InvoiceView(invoice, lines), parties)

    @staticmethod
    async def compose(session: AsyncSession, view: InvoiceView, parties: Parties) -> Document:
        """The PDF's content for an invoice and its parties (the caller decided who may see
        it)."""
        settings = await invoice_repository.billing_settings(session)
        return Document(
            invoice=view.invoice,
            lines=view.lines,
            agency_name=parties.agency_name,
            brand_color=parties.brand_color,
            logo=await load_logo(parties.logo_url),
            sender_address=settings.sender_address if settings else None,
            tax_number=settings.tax_number if settings else None,
            footer=settings.invoice_footer if settings else None,
            client_name=parties.client_name,
            client_contact=parties.contact_name,
            client_email=parties.email,
            client_address=parties.address,
        )


document_service = DocumentService()
