"""BillingService gRPC for the client portal: a client user's invoices, one invoice with its
lines and payments, its PDF and a payment page. Thin: parse, call the service, shape the
message (only the client's document: no time entries, rates, costs or Stripe ids)."""

from __future__ import annotations

from functools import cached_property
from typing import cast

import grpc

from agencyos.billing.checkout.provider import PaymentProvider, StripeProvider
from agencyos.billing.client_invoice.service import (
    ClientInvoiceView,
    client_invoice_service,
    parse_filter,
)
from agencyos.billing.peers import Peers
from agencyos.billing.settings import BillingSettings
from agencyos.common.rpc import (
    iso_date,
    own_transactions,
    parse_uuid,
    rfc3339,
    rpc_principal,
    rpc_session,
    rpc_transactions,
)
from agencyos.common.web import ServiceContext
from agencyos.protos.billing.v1 import billing_pb2, billing_pb2_grpc


def invoice_message(view: ClientInvoiceView) -> billing_pb2.ClientInvoice:
    invoice = view.invoice
    return billing_pb2.ClientInvoice(
        id=str(invoice.id),
        number=invoice.number or "",
        status=invoice.status,
        issue_date=iso_date(invoice.issue_date),
        due_date=iso_date(invoice.due_date),
        currency=invoice.currency,
        subtotal_cents=invoice.subtotal_cents,
        tax_cents=invoice.tax_cents,
        total_cents=invoice.total_cents,
        amount_paid_cents=invoice.amount_paid_cents,
        amount_due_cents=invoice.amount_due_cents,
        overdue=view.overdue,
        payable=view.payable,
        sent_at=rfc3339(invoice.sent_at),
        paid_at=rfc3339(invoice.paid_at) if invoice.status == "paid" else "",
        period_from=iso_date(invoice.period_from),
        period_to=iso_date(invoice.period_to),
        notes=invoice.notes or "",
        issuer_name=invoice.issuer_name or "",
        bill_to_name=invoice.bill_to_client_name or "",
        lines=[
            billing_pb2.ClientInvoiceLine(
                description=line.description,
                quantity=format(line.quantity.normalize(), "f"),
                unit_price_cents=line.unit_price_cents,
                amount_cents=line.amount_cents,
                tax_rate_bps=line.tax_rate_bps,
                tax_cents=line.tax_cents,
            )
            for line in view.lines
        ],
        payments=[
            billing_pb2.ClientPayment(
                received_at=rfc3339(payment.received_at),
                amount_cents=payment.amount_cents,
                currency=payment.currency,
                method=payment.method,
            )
            for payment in view.payments
        ],
    )


class ClientInvoiceRpc(billing_pb2_grpc.BillingServiceServicer):
    """Mixed into the service's one BillingServicer (which sets `ctx`)."""

    ctx: ServiceContext

    def _peers(self) -> Peers:
        return Peers.of_settings(self.ctx.settings)

    @cached_property
    def _provider(self) -> PaymentProvider:
        # The process's gRPC server keeps one (the HTTP app keeps its own).
        return StripeProvider(cast(BillingSettings, self.ctx.settings))

    async def ListClientInvoices(
        self, request: billing_pb2.ListClientInvoicesRequest, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ListClientInvoicesResponse:
        wanted = parse_filter(request.status)
        found = await client_invoice_service.list_invoices(rpc_session(), rpc_principal(), wanted)
        return billing_pb2.ListClientInvoicesResponse(
            invoices=[invoice_message(v) for v in found.invoices],
            open_due=[
                billing_pb2.AmountDue(
                    currency=d.currency,
                    amount_due_cents=d.amount_due_cents,
                    invoice_count=d.invoice_count,
                )
                for d in found.open_due
            ],
        )

    async def GetClientInvoice(
        self, request: billing_pb2.ClientInvoiceRef, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ClientInvoice:
        invoice_id = parse_uuid(request.invoice_id, "invoice_id")
        view = await client_invoice_service.get(rpc_session(), rpc_principal(), invoice_id)
        return invoice_message(view)

    async def GetClientInvoicePdf(
        self, request: billing_pb2.ClientInvoiceRef, context: grpc.aio.ServicerContext
    ) -> billing_pb2.InvoicePdf:
        invoice_id = parse_uuid(request.invoice_id, "invoice_id")
        content, filename = await client_invoice_service.pdf(
            rpc_session(), rpc_principal(), self._peers(), invoice_id
        )
        return billing_pb2.InvoicePdf(content=content, filename=filename)

    @own_transactions
    async def CreateClientCheckout(
        self, request: billing_pb2.ClientInvoiceRef, context: grpc.aio.ServicerContext
    ) -> billing_pb2.ClientCheckout:
        # Stripe is called between reading the invoice and writing the new page: no
        # transaction is held meanwhile (short ones, opened by the service).
        invoice_id = parse_uuid(request.invoice_id, "invoice_id")
        checkout = await client_invoice_service.checkout(
            rpc_transactions(), rpc_principal(), self._peers(), self._provider, invoice_id
        )
        return billing_pb2.ClientCheckout(
            url=checkout.url, amount_cents=checkout.amount_cents, currency=checkout.currency
        )
