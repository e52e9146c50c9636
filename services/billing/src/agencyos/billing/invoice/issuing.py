"""Issuing invoices: sending a draft (number, payment page, `billing.invoice.sent`) and
voiding a sent one (`billing.invoice.voided`).

Both talk to systems whose effects cannot ride in billing's transaction (time's gRPC,
Stripe), so they are given `Transactions` and open short ones themselves, never holding a lock
across a call that can be slow:

- send: the Stripe customer and Checkout Session are made first (no lock held); then one
  transaction locks the draft, has time confirm its entries, takes the agency's number counter
  lock last, numbers the invoice, keeps whom it is addressed to (and from whom) and publishes
  `billing.invoice.sent` with that addressee and a signed PDF link. A failure anywhere rolls
  that transaction back (the number with it, so numbers stay gapless) and expires the session.
- renew the payment page: a Checkout Session lives at most 24 hours, an invoice weeks. A new
  one is made for what is still owed (no lock held), then one transaction checks the invoice
  still owes exactly that, records the session and puts its URL on the invoice; the old
  session is expired after the commit (a failure expires the new one instead).
- void: committed first (with `billing.invoice.voided`), then time is asked to release the
  entries; time also releases them when it sees the event, so a failed call is caught up.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.checkout.provider import (
    CheckoutLink,
    CheckoutRequest,
    CustomerDetails,
    PaymentProvider,
)
from agencyos.billing.checkout.service import checkout_service
from agencyos.billing.invoice.document_link import DocumentLinks
from agencyos.billing.invoice.errors import NotPayable, NotSendable, NotVoidable
from agencyos.billing.invoice.parties import bill_to, issuer, keep_parties
from agencyos.billing.invoice.repository import invoice_repository
from agencyos.billing.invoice.schemas import InvoiceVoid
from agencyos.billing.invoice.service import SERVICE, InvoiceView
from agencyos.billing.invoice.status import InvoiceStatus, Move
from agencyos.billing.models import Invoice
from agencyos.billing.peers import Peers
from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import Transactions, utcnow
from agencyos.common.errors import AppError, Conflict, NotFound
from agencyos.common.events import InvoiceSent, InvoiceVoided
from agencyos.common.logs import get_logger
from agencyos.common.outbox import publish
from agencyos.common.peers.crm import Client as ClientInfo
from agencyos.common.peers.identity import Agency as AgencyInfo

log = get_logger(__name__)


@dataclass(frozen=True)
class _Addressed:
    """Who sends the invoice and to whom, as identity and CRM answered before sending."""

    agency: AgencyInfo
    client: ClientInfo


def invoice_number(prefix: str, number: int) -> str:
    """`INV-` and 42 -> `INV-0042` (at least 4 digits; more once past 9999)."""
    return f"{prefix}{number:04d}"


class IssuingService:
    @staticmethod
    def _check_sendable(invoice: Invoice) -> InvoiceStatus:
        """The status sending gives the invoice, if it can be sent."""
        sent = InvoiceStatus(invoice.status).transition(InvoiceStatus.SENT, Move.SEND)
        if invoice.total_cents <= 0:
            raise NotSendable("only an invoice with a total above zero can be sent")
        return sent

    async def send(
        self,
        tx: Transactions,
        principal: Principal,
        peers: Peers,
        provider: PaymentProvider,
        links: DocumentLinks,
        invoice_id: uuid.UUID,
    ) -> InvoiceView:
        principal.require("invoices.write")
        # The sender must have proved their own address (identity's `email_verified` claim).
        principal.require_verified_email("send invoices")
        async with tx() as session:
            draft = await invoice_repository.get(session, invoice_id)
            if draft is None:
                raise NotFound("no such invoice")
            self._check_sendable(draft)
            seen_version = draft.version
            customer_id = await checkout_service.stored_customer(session, draft.client_id)
        agency, client, link = await self._open_page(
            tx,
            principal,
            peers,
            provider,
            draft,
            customer_id,
            amount_cents=draft.total_cents,
            title="Invoice",
            refusal=NotSendable,
        )
        try:
            async with tx() as session:
                return await self._issue(
                    session,
                    principal,
                    peers,
                    links,
                    _Addressed(agency, client),
                    invoice_id,
                    seen_version,
                    link,
                )
        except BaseException:
            await provider.expire_checkout(link.session_id)
            raise

    async def _open_page(
        self,
        tx: Transactions,
        principal: Principal,
        peers: Peers,
        provider: PaymentProvider,
        invoice: Invoice,
        customer_id: str | None,
        *,
        amount_cents: int,
        title: str,
        refusal: type[Conflict],
    ) -> tuple[AgencyInfo, ClientInfo, CheckoutLink]:
        """A Checkout Session for `amount_cents` of the invoice, for the client's Stripe
        customer (made now if the client has none); no lock is held meanwhile."""
        agency = await peers.identity.agency(principal)
        client = await peers.crm.client(principal, invoice.client_id)
        if client is None:
            raise refusal("the invoice's client no longer exists in CRM")
        if customer_id is None:
            customer_id = await self._new_customer(tx, principal, provider, client)
        link = await checkout_service.open_checkout(
            provider,
            CheckoutRequest(
                tenant_id=principal.tenant_id,
                invoice_id=invoice.id,
                customer_id=customer_id,
                amount_cents=amount_cents,
                currency=invoice.currency,
                product_name=f"{title} from {agency.name}"[:250],
                description=f"For {client.company_name}"[:250],
                agency_slug=agency.slug,
            ),
        )
        return agency, client, link

    async def _new_customer(
        self, tx: Transactions, principal: Principal, provider: PaymentProvider, client: ClientInfo
    ) -> str:
        created = await checkout_service.new_customer(
            provider,
            CustomerDetails(
                tenant_id=principal.tenant_id,
                client_id=client.id,
                name=client.company_name,
                email=client.contact_email,
                address_lines=client.address_lines,
            ),
        )
        async with tx() as session:
            return await checkout_service.remember_customer(
                session, principal.tenant_id, client.id, created
            )

    async def _issue(
        self,
        session: AsyncSession,
        principal: Principal,
        peers: Peers,
        links: DocumentLinks,
        parties: _Addressed,
        invoice_id: uuid.UUID,
        seen_version: int,
        link: CheckoutLink,
    ) -> InvoiceView:
        agency = parties.agency
        invoice = await invoice_repository.lock(session, invoice_id)
        if invoice is None:
            raise NotFound("no such invoice")
        sent = self._check_sendable(invoice)
        if invoice.version != seen_version:
            raise Conflict("the draft changed while it was being sent; send it again")
        lines = await invoice_repository.lines(session, invoice.id)
        held = sum(len(line.time_entry_ids) for line in lines)
        if held:
            confirmed = await peers.time.confirm_invoiced(principal, invoice.id)
            if confirmed != held:
                raise NotSendable(
                    f"time holds {confirmed} of this draft's {held} entries for it; delete the "
                    "draft and build it again"
                )
        await checkout_service.reference(session, principal.tenant_id, invoice.id, link)
        # The counter's row lock is taken last, so concurrent sends wait on it only for the
        # few statements below; the number is consumed only if this transaction commits.
        number = await invoice_repository.next_number(session, principal.tenant_id)
        issue_date = datetime.now(agency.timezone).date()
        invoice.number = invoice_number(agency.invoice_prefix, number)
        invoice.status = sent.value
        invoice.issue_date = issue_date
        invoice.timezone = agency.timezone.key
        invoice.due_date = issue_date + timedelta(days=invoice.due_in_days)
        invoice.payment_url = link.url
        invoice.stripe_checkout_session_id = link.session_id
        invoice.sent_at = utcnow()
        keep_parties(invoice, agency, parties.client)
        invoice.version += 1
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:
            raise Conflict(
                f"invoice number {invoice.number} is already taken (the agency's invoice prefix "
                "changed?); change the prefix and send again"
            ) from exc
        await publish(
            session,
            InvoiceSent(
                invoice_id=invoice.id,
                client_id=invoice.client_id,
                number=invoice.number,
                total_cents=invoice.total_cents,
                currency=invoice.currency,
                due_date=invoice.due_date,
                payment_url=invoice.payment_url,
                bill_to=bill_to(invoice),
                issuer=issuer(invoice),
                document_url=links.url(invoice.tenant_id, invoice.id, invoice.sent_at),
            ),
            source_service=SERVICE,
            subject=f"invoices/{invoice.id}",
        )
        await record_audit(
            session,
            action="invoice.sent",
            entity_type="invoice",
            entity_id=invoice.id,
            actor=principal,
            source_service=SERVICE,
            before={"status": "draft", "number": None},
            after={"status": invoice.status, "number": invoice.number},
            detail={
                "client_id": str(invoice.client_id),
                "total_cents": invoice.total_cents,
                "currency": invoice.currency,
                "due_date": invoice.due_date.isoformat(),
            },
        )
        return InvoiceView(invoice, lines)

    async def void(
        self,
        tx: Transactions,
        principal: Principal,
        peers: Peers,
        provider: PaymentProvider,
        invoice_id: uuid.UUID,
        data: InvoiceVoid,
    ) -> InvoiceView:
        """A sent invoice nobody has paid anything on becomes void, keeping its number."""
        principal.require("invoices.write")
        async with tx() as session:
            invoice = await invoice_repository.lock(session, invoice_id)
            if invoice is None:
                raise NotFound("no such invoice")
            void = InvoiceStatus(invoice.status).transition(InvoiceStatus.VOID, Move.VOID)
            if invoice.amount_paid_cents != 0:
                raise NotVoidable(
                    "payments are recorded on this invoice; refund them before voiding it"
                )
            voided_at = utcnow()
            status_before = invoice.status
            invoice.status = void.value
            invoice.voided_at = voided_at
            invoice.void_reason = data.reason or None
            invoice.version += 1
            await session.flush()
            await invoice_repository.release_milestones(session, invoice.id)
            await publish(
                session,
                InvoiceVoided(
                    invoice_id=invoice.id,
                    client_id=invoice.client_id,
                    number=invoice.number,
                    reason=invoice.void_reason,
                    voided_at=voided_at,
                ),
                source_service=SERVICE,
                subject=f"invoices/{invoice.id}",
            )
            await record_audit(
                session,
                action="invoice.voided",
                entity_type="invoice",
                entity_id=invoice.id,
                actor=principal,
                source_service=SERVICE,
                before={"status": status_before},
                after={"status": invoice.status},
                detail={
                    "number": invoice.number,
                    "total_cents": invoice.total_cents,
                    "currency": invoice.currency,
                    "reason": invoice.void_reason,
                },
            )
            lines = await invoice_repository.lines(session, invoice.id)
        if any(line.time_entry_ids for line in lines):
            try:
                await peers.time.release_entries(principal, invoice.id)
            except AppError:
                # time releases them on billing.invoice.voided too
                log.warning("releasing a void invoice's time failed", invoice_id=str(invoice.id))
        if invoice.stripe_checkout_session_id:
            await provider.expire_checkout(invoice.stripe_checkout_session_id)
        return InvoiceView(invoice, lines)

    @staticmethod
    def _check_payable(invoice: Invoice) -> int:
        """What is still owed on an invoice that takes payments."""
        if not InvoiceStatus(invoice.status).is_open:
            raise NotPayable(
                f"the invoice is {invoice.status}; only a sent, overdue or partly paid invoice "
                "has a payment page"
            )
        owed = invoice.total_cents - invoice.amount_paid_cents
        if owed <= 0:
            raise NotPayable("nothing is owed on this invoice")
        return owed

    async def renew_payment_link(
        self,
        tx: Transactions,
        principal: Principal,
        peers: Peers,
        provider: PaymentProvider,
        invoice_id: uuid.UUID,
    ) -> InvoiceView:
        """A new payment page for what is still owed, replacing the invoice's current one."""
        principal.require("invoices.write")
        async with tx() as session:
            invoice = await invoice_repository.get(session, invoice_id)
            if invoice is None:
                raise NotFound("no such invoice")
            owed = self._check_payable(invoice)
            seen_version = invoice.version
            customer_id = await checkout_service.stored_customer(session, invoice.client_id)
        _, _, link = await self._open_page(
            tx,
            principal,
            peers,
            provider,
            invoice,
            customer_id,
            amount_cents=owed,
            title=f"Invoice {invoice.number}",
            refusal=NotPayable,
        )
        return await self._replace_page(
            tx, principal, provider, invoice_id, seen_version, owed, link
        )

    async def renew_payment_link_for_client(
        self,
        tx: Transactions,
        principal: Principal,
        provider: PaymentProvider,
        invoice: Invoice,
        agency_slug: str,
    ) -> tuple[CheckoutLink, int]:
        """A new payment page for what a sent invoice still owes, opened by its client (the
        portal's Pay), and how much it collects. The client's token may not read CRM: the
        page is addressed from what the invoice kept when it was sent, and the client's
        Stripe customer is the one sending made (made now from the same, if missing)."""
        owed = self._check_payable(invoice)
        async with tx() as session:
            customer_id = await checkout_service.stored_customer(session, invoice.client_id)
        client_name = invoice.bill_to_client_name or "Client"
        if customer_id is None:
            created = await checkout_service.new_customer(
                provider,
                CustomerDetails(
                    tenant_id=principal.tenant_id,
                    client_id=invoice.client_id,
                    name=client_name,
                    email=invoice.bill_to_email,
                    address_lines=tuple(invoice.bill_to_address or ()),
                ),
            )
            async with tx() as session:
                customer_id = await checkout_service.remember_customer(
                    session, principal.tenant_id, invoice.client_id, created
                )
        issuer_name = invoice.issuer_name or "your agency"
        link = await checkout_service.open_checkout(
            provider,
            CheckoutRequest(
                tenant_id=principal.tenant_id,
                invoice_id=invoice.id,
                customer_id=customer_id,
                amount_cents=owed,
                currency=invoice.currency,
                product_name=f"Invoice {invoice.number} from {issuer_name}"[:250],
                description=f"For {client_name}"[:250],
                agency_slug=agency_slug,
            ),
        )
        await self._replace_page(
            tx, principal, provider, invoice.id, invoice.version, owed, link, by_client=True
        )
        return link, owed

    async def _replace_page(
        self,
        tx: Transactions,
        principal: Principal,
        provider: PaymentProvider,
        invoice_id: uuid.UUID,
        seen_version: int,
        owed: int,
        link: CheckoutLink,
        *,
        by_client: bool = False,
    ) -> InvoiceView:
        """Put the new page `link` on the invoice if it still owes exactly `owed` as seen
        (version `seen_version`), and expire the page it replaces; a failure expires the new
        one instead. A page the client opened is recorded in the audit log."""
        try:
            async with tx() as session:
                locked = await invoice_repository.lock(session, invoice_id)
                if locked is None:
                    raise NotFound("no such invoice")
                if locked.version != seen_version or self._check_payable(locked) != owed:
                    raise Conflict(
                        "the invoice changed while its payment page was being made; try again"
                    )
                replaced = locked.stripe_checkout_session_id
                await checkout_service.reference(session, principal.tenant_id, locked.id, link)
                locked.payment_url = link.url
                locked.stripe_checkout_session_id = link.session_id
                locked.version += 1
                await session.flush()
                if by_client:
                    await record_audit(
                        session,
                        action="invoice.payment_page_opened",
                        entity_type="invoice",
                        entity_id=locked.id,
                        actor=principal,
                        source_service=SERVICE,
                        detail={
                            "number": locked.number,
                            "amount_cents": owed,
                            "currency": locked.currency,
                        },
                    )
                view = InvoiceView(locked, await invoice_repository.lines(session, locked.id))
        except BaseException:
            await provider.expire_checkout(link.session_id)
            raise
        if replaced:
            # paying on the old page after this would collect the old amount
            await provider.expire_checkout(replaced)
        return view


issuing_service = IssuingService()
