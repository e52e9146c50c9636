"""What a client user sees of its invoices (the client portal, through billing's gRPC): the
invoices that went out to its own client, each as the client's document (lines as billed,
payments received), the PDF, and a payment page for what is still owed.

The client is the token's (`cid`); nobody else calls these (PermissionDenied). Whatever the
client may not see (another client's invoice, a draft, a void one, another agency's) is
NotFound, exactly like an unknown id, so ids reveal nothing."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.checkout.provider import PaymentProvider
from agencyos.billing.client_invoice.repository import SHOWN, client_invoice_repository
from agencyos.billing.invoice.document import document_service
from agencyos.billing.invoice.issuing import issuing_service
from agencyos.billing.invoice.parties import Parties, kept_parties
from agencyos.billing.invoice.pdf import render
from agencyos.billing.invoice.repository import invoice_repository
from agencyos.billing.invoice.service import InvoiceView
from agencyos.billing.invoice.status import OPEN_STATUSES, InvoiceStatus
from agencyos.billing.models import Invoice, InvoiceLine, Payment
from agencyos.billing.peers import Peers
from agencyos.common.auth import Principal
from agencyos.common.db import Transactions
from agencyos.common.errors import InvalidInput, NotFound, PermissionDenied, PreconditionFailed
from agencyos.common.permissions import Role


class InvoiceFilter(StrEnum):
    OPEN = "open"
    PAID = "paid"
    ALL = "all"


FILTERS: dict[InvoiceFilter, frozenset[InvoiceStatus]] = {
    InvoiceFilter.OPEN: frozenset(OPEN_STATUSES),
    InvoiceFilter.PAID: frozenset({InvoiceStatus.PAID}),
    InvoiceFilter.ALL: SHOWN,
}


class NothingOwed(PreconditionFailed):
    slug, title = "invoice-not-payable", "The invoice takes no payment"


@dataclass(frozen=True)
class ClientInvoiceView:
    invoice: Invoice
    overdue: bool
    lines: Sequence[InvoiceLine] = ()
    payments: Sequence[Payment] = ()

    @property
    def payable(self) -> bool:
        return InvoiceStatus(self.invoice.status).is_open and self.invoice.amount_due_cents > 0


@dataclass(frozen=True)
class OpenDue:
    currency: str
    amount_due_cents: int
    invoice_count: int


@dataclass(frozen=True)
class ClientInvoices:
    invoices: list[ClientInvoiceView]
    open_due: list[OpenDue] = field(default_factory=list)


@dataclass(frozen=True)
class ClientCheckout:
    url: str
    amount_cents: int
    currency: str


def client_of(principal: Principal) -> uuid.UUID:
    """The client a client user is bound to; anyone else is refused."""
    if principal.role != Role.CLIENT:
        raise PermissionDenied("only a client user sees its client's invoices here")
    if principal.client_id is None:
        raise PermissionDenied("this client user is bound to no client")
    return principal.client_id


def _today_of(invoice: Invoice) -> date:
    try:
        zone = ZoneInfo(invoice.timezone or "UTC")
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    return datetime.now(zone).date()


def is_overdue(invoice: Invoice) -> bool:
    """Marked overdue, or still owing past its due date (the agency's day)."""
    status = InvoiceStatus(invoice.status)
    if status is InvoiceStatus.OVERDUE:
        return True
    if not status.is_open or invoice.due_date is None or invoice.amount_due_cents <= 0:
        return False
    return invoice.due_date < _today_of(invoice)


def pdf_filename(invoice: Invoice) -> str:
    return "invoice-" + re.sub(r"[^A-Za-z0-9._-]", "-", invoice.number or str(invoice.id)) + ".pdf"


class ClientInvoiceService:
    async def list_invoices(
        self, session: AsyncSession, principal: Principal, wanted: InvoiceFilter
    ) -> ClientInvoices:
        client_id = client_of(principal)
        shown = await client_invoice_repository.of_client(session, client_id, SHOWN)
        due: dict[str, list[int]] = {}
        for invoice in shown:
            if InvoiceStatus(invoice.status).is_open and invoice.amount_due_cents > 0:
                row = due.setdefault(invoice.currency, [0, 0])
                row[0] += invoice.amount_due_cents
                row[1] += 1
        statuses = {s.value for s in FILTERS[wanted]}
        return ClientInvoices(
            invoices=[ClientInvoiceView(i, is_overdue(i)) for i in shown if i.status in statuses],
            open_due=[OpenDue(c, amount, count) for c, (amount, count) in sorted(due.items())],
        )

    async def _visible(
        self, session: AsyncSession, principal: Principal, invoice_id: uuid.UUID
    ) -> Invoice:
        client_id = client_of(principal)
        invoice = await client_invoice_repository.get(session, client_id, invoice_id)
        if invoice is None:
            raise NotFound("no such invoice")
        return invoice

    async def get(
        self, session: AsyncSession, principal: Principal, invoice_id: uuid.UUID
    ) -> ClientInvoiceView:
        invoice = await self._visible(session, principal, invoice_id)
        return ClientInvoiceView(
            invoice,
            is_overdue(invoice),
            lines=await invoice_repository.lines(session, invoice.id),
            payments=await client_invoice_repository.payments(session, invoice.id),
        )

    async def pdf(
        self, session: AsyncSession, principal: Principal, peers: Peers, invoice_id: uuid.UUID
    ) -> tuple[bytes, str]:
        """The same PDF the agency's team gets, and its file name."""
        invoice = await self._visible(session, principal, invoice_id)
        parties = kept_parties(invoice)
        if parties is None:
            # Sent before the parties were kept: the agency as identity has it now (a client
            # user may not read CRM), the client as little as the invoice knows.
            agency = await peers.identity.agency(principal)
            parties = Parties(
                agency_name=agency.name,
                brand_color=agency.brand_color,
                logo_url=agency.logo_url,
                client_name=invoice.bill_to_client_name or "",
                contact_name=None,
                email=None,
                address=(),
            )
        lines = await invoice_repository.lines(session, invoice.id)
        document = await document_service.compose(session, InvoiceView(invoice, lines), parties)
        content = await asyncio.to_thread(render, document)
        return content, pdf_filename(invoice)

    async def checkout(
        self,
        tx: Transactions,
        principal: Principal,
        peers: Peers,
        provider: PaymentProvider,
        invoice_id: uuid.UUID,
    ) -> ClientCheckout:
        """A new Stripe Checkout page for all the invoice still owes (replacing its page)."""
        async with tx() as session:
            invoice = await self._visible(session, principal, invoice_id)
        if not InvoiceStatus(invoice.status).is_open or invoice.amount_due_cents <= 0:
            raise NothingOwed(f"the invoice is {invoice.status}: nothing is owed on it")
        # Where Stripe sends the payer back: the portal of the agency (kept when it was sent).
        slug = invoice.issuer_slug or (await peers.identity.agency(principal)).slug
        link, owed = await issuing_service.renew_payment_link_for_client(
            tx, principal, provider, invoice, slug
        )
        return ClientCheckout(url=link.url, amount_cents=owed, currency=invoice.currency)


def parse_filter(raw: str) -> InvoiceFilter:
    try:
        return InvoiceFilter(raw or InvoiceFilter.ALL)
    except ValueError as exc:
        raise InvalidInput("status must be open, paid or all") from exc


client_invoice_service = ClientInvoiceService()
