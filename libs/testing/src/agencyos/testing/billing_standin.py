"""billing's gRPC contract as a typed stand-in for the in-process tier (see
agencyos.testing.standins): a client user's invoices, one with its lines and payments, its PDF
and a payment page, held per (agency, client) so a test can check that one client never
reaches another's."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

import grpc

from agencyos.common.errors import InvalidInput, NotFound, PermissionDenied, PreconditionFailed
from agencyos.common.permissions import Role
from agencyos.common.rpc import rpc_principal
from agencyos.protos.billing.v1 import billing_pb2, billing_pb2_grpc
from agencyos.testing.standin_support import caller_tenant, peer_uuid, rfc3339

# What billing's list answers for each filter (drafts and void invoices never).
_FILTERS: dict[str, frozenset[str]] = {
    "open": frozenset({"sent", "partially_paid", "overdue"}),
    "paid": frozenset({"paid"}),
    "all": frozenset({"sent", "partially_paid", "overdue", "paid"}),
}
_SHOWN = _FILTERS["all"]


@dataclass
class StoredInvoice:
    """An invoice as the test declared it: whose it is, and the client's document."""

    agency_id: uuid.UUID
    client_id: uuid.UUID
    message: billing_pb2.ClientInvoice
    # The status billing holds (draft and void included, which a client never sees).
    status: str


@dataclass
class BillingStandIn(billing_pb2_grpc.BillingServiceServicer):
    """billing's invoices as the test declared them. Who sees what is billing's rule: a client
    user the sent (not void) invoices of its own client; anyone else is refused."""

    invoices: dict[tuple[uuid.UUID, uuid.UUID], StoredInvoice] = field(default_factory=dict)
    # Payment pages made: (the caller's user id, the invoice id, the page's URL), in order.
    checkouts: list[tuple[uuid.UUID, uuid.UUID, str]] = field(default_factory=list)

    def add_invoice(
        self,
        agency_id: uuid.UUID,
        client_id: uuid.UUID,
        *,
        status: str = "sent",
        number: str = "",
        currency: str = "USD",
        lines: tuple[tuple[str, str, int], ...] = (("Design work", "2", 5_000),),
        amount_paid_cents: int = 0,
        due_date: date | None = None,
        issuer_name: str = "Agency",
        bill_to_name: str = "Client",
    ) -> uuid.UUID:
        """An invoice of `client_id` (lines as (description, quantity, unit price in cents);
        no tax). `status` is billing's: draft and void ones are held but never answered."""
        invoice_id = uuid.uuid4()
        today = date.today()
        line_messages = []
        for description, quantity, unit_price_cents in lines:
            amount = round(float(quantity) * unit_price_cents)
            line_messages.append(
                billing_pb2.ClientInvoiceLine(
                    description=description,
                    quantity=quantity,
                    unit_price_cents=unit_price_cents,
                    amount_cents=amount,
                )
            )
        total = sum(line.amount_cents for line in line_messages)
        due = due_date or today + timedelta(days=30)
        message = billing_pb2.ClientInvoice(
            id=str(invoice_id),
            number=number or f"INV-{invoice_id.int % 10_000:04d}",
            issue_date=today.isoformat(),
            due_date=due.isoformat(),
            currency=currency,
            subtotal_cents=total,
            total_cents=total,
            sent_at=rfc3339(time.time()) if status != "draft" else "",
            issuer_name=issuer_name,
            bill_to_name=bill_to_name,
            lines=line_messages,
        )
        stored = StoredInvoice(agency_id, client_id, message, status)
        self.invoices[(agency_id, invoice_id)] = stored
        if amount_paid_cents:
            self.record_payment(agency_id, invoice_id, amount_paid_cents)
        else:
            self._settle(stored)
        return invoice_id

    def record_payment(
        self, agency_id: uuid.UUID, invoice_id: uuid.UUID, amount_cents: int, method: str = "stripe"
    ) -> None:
        """Money received for the invoice (as billing records it from a payment)."""
        stored = self.invoices[(agency_id, invoice_id)]
        stored.message.payments.append(
            billing_pb2.ClientPayment(
                received_at=rfc3339(time.time()),
                amount_cents=amount_cents,
                currency=stored.message.currency,
                method=method,
            )
        )
        stored.message.amount_paid_cents += amount_cents
        self._settle(stored)

    def _settle(self, stored: StoredInvoice) -> None:
        message = stored.message
        message.amount_due_cents = max(message.total_cents - message.amount_paid_cents, 0)
        if stored.status in _SHOWN:
            overdue_by_date = date.fromisoformat(message.due_date) < date.today()
            if message.amount_due_cents == 0:
                stored.status = "paid"
                message.paid_at = rfc3339(time.time())
            elif stored.status == "overdue" or overdue_by_date:
                stored.status = "overdue"
            elif message.amount_paid_cents > 0:
                stored.status = "partially_paid"
            else:
                stored.status = "sent"
        message.status = stored.status
        message.overdue = stored.status == "overdue"
        message.payable = stored.status in _FILTERS["open"] and message.amount_due_cents > 0

    def _caller_client(self) -> uuid.UUID:
        principal = rpc_principal()
        if principal.role != Role.CLIENT:
            raise PermissionDenied("billing's client calls are for client users only")
        if principal.client_id is None:
            raise PermissionDenied("this client user is bound to no client")
        return principal.client_id

    def _visible(self, raw_invoice_id: str) -> StoredInvoice:
        client_id = self._caller_client()
        stored = self.invoices.get((caller_tenant(), peer_uuid(raw_invoice_id)))
        if stored is None or stored.client_id != client_id or stored.status not in _SHOWN:
            raise NotFound("no such invoice")
        return stored

    @staticmethod
    def _summary(message: billing_pb2.ClientInvoice) -> billing_pb2.ClientInvoice:
        summary = billing_pb2.ClientInvoice()
        summary.CopyFrom(message)
        del summary.lines[:]
        del summary.payments[:]
        return summary

    async def ListClientInvoices(
        self, request: billing_pb2.ListClientInvoicesRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ListClientInvoicesResponse:
        client_id = self._caller_client()
        wanted = _FILTERS.get(request.status or "all")
        if wanted is None:
            raise InvalidInput("status must be open, paid or all")
        tenant = caller_tenant()
        mine = [
            s
            for (agency, _), s in self.invoices.items()
            if agency == tenant and s.client_id == client_id and s.status in _SHOWN
        ]
        mine.sort(key=lambda s: (s.message.issue_date, s.message.number), reverse=True)
        due: dict[str, list[int]] = {}
        for s in mine:
            if s.status in _FILTERS["open"]:
                row = due.setdefault(s.message.currency, [0, 0])
                row[0] += s.message.amount_due_cents
                row[1] += 1
        return billing_pb2.ListClientInvoicesResponse(
            invoices=[self._summary(s.message) for s in mine if s.status in wanted],
            open_due=[
                billing_pb2.AmountDue(currency=c, amount_due_cents=a, invoice_count=n)
                for c, (a, n) in sorted(due.items())
            ],
        )

    async def GetClientInvoice(
        self, request: billing_pb2.ClientInvoiceRef, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ClientInvoice:
        return self._visible(request.invoice_id).message

    async def GetClientInvoicePdf(
        self, request: billing_pb2.ClientInvoiceRef, context: grpc.aio.ServicerContext
    ) -> billing_pb2.InvoicePdf:
        message = self._visible(request.invoice_id).message
        # Not a rendering: enough of a PDF's shape for a test to tell it is the one asked for.
        content = f"%PDF-1.4\n% invoice {message.number}\n%%EOF\n".encode()
        return billing_pb2.InvoicePdf(content=content, filename=f"invoice-{message.number}.pdf")

    async def CreateClientCheckout(
        self, request: billing_pb2.ClientInvoiceRef, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ClientCheckout:
        stored = self._visible(request.invoice_id)
        message = stored.message
        if not message.payable:
            raise PreconditionFailed(f"the invoice is {stored.status}: nothing is owed on it")
        url = f"https://checkout.stripe.com/c/pay/cs_test_{uuid.uuid4().hex}"
        self.checkouts.append((rpc_principal().user_id, uuid.UUID(message.id), url))
        return billing_pb2.ClientCheckout(
            url=url, amount_cents=message.amount_due_cents, currency=message.currency
        )
