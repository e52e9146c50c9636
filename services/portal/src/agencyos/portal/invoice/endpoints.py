import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response

from agencyos.common.peers.billing import InvoiceFilter
from agencyos.portal.invoice.schemas import (
    AmountDue,
    PortalCheckout,
    PortalInvoice,
    PortalInvoiceDetail,
    PortalInvoices,
)
from agencyos.portal.permissions import CLIENT_ONLY, Billing, PortalClient, Responses

router = APIRouter(prefix="/v1/portal/invoices", tags=["portal"])

NOT_FOUND: Responses = {
    404: {"description": "No such invoice sent to your client (drafts and void ones included)"},
}


@router.get(
    "",
    response_model=PortalInvoices,
    summary="The client's invoices",
    description=(
        "The invoices the agency sent the caller's client (the token's client), newest first "
        "(at most the latest 500), with what each still owes and whether it is overdue, and "
        "the total still due per currency over all open ones (`open_due`, whatever the "
        "filter). `status`: `open` (sent, partly paid or overdue), `paid`, or `all` (the "
        "default). Drafts and void invoices never appear. Client users only."
    ),
    responses={**CLIENT_ONLY, 422: {"description": "`status` is not open, paid or all"}},
)
async def list_invoices(
    caller: PortalClient,
    billing: Billing,
    status: Annotated[InvoiceFilter, Query(description="open | paid | all")] = InvoiceFilter.ALL,
) -> PortalInvoices:
    found = await billing.client_invoices(caller.principal, status)
    return PortalInvoices(
        items=[PortalInvoice.of(i) for i in found.invoices],
        open_due=[
            AmountDue(
                currency=d.currency,
                amount_due_cents=d.amount_due_cents,
                invoice_count=d.invoice_count,
            )
            for d in found.open_due
        ],
    )


@router.get(
    "/{invoice_id}",
    response_model=PortalInvoiceDetail,
    summary="One of the client's invoices",
    description=(
        "The invoice as the client's document: its lines as billed (description, quantity, "
        "unit price, amount, tax), totals, the payments received (date, amount, method) and "
        "what is still due. Client users only."
    ),
    responses={**CLIENT_ONLY, **NOT_FOUND},
)
async def get_invoice(
    invoice_id: uuid.UUID, caller: PortalClient, billing: Billing
) -> PortalInvoiceDetail:
    invoice = await billing.client_invoice(caller.principal, invoice_id)
    return PortalInvoiceDetail.of_detail(invoice)


@router.get(
    "/{invoice_id}/pdf",
    response_class=Response,
    summary="The invoice as a PDF",
    description=(
        "The same PDF the agency sends, as a download (`Content-Disposition: attachment`, "
        "`invoice-<number>.pdf`). Client users only."
    ),
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The PDF document"},
        **CLIENT_ONLY,
        **NOT_FOUND,
    },
)
async def invoice_pdf(invoice_id: uuid.UUID, caller: PortalClient, billing: Billing) -> Response:
    pdf = await billing.client_invoice_pdf(caller.principal, invoice_id)
    return Response(
        content=pdf.content,
        media_type="application/pdf",
        headers={
            "Content-Disposition": f'attachment; filename="{pdf.filename}"',
            "Cache-Control": "private, no-store",
        },
    )


@router.post(
    "/{invoice_id}/pay",
    response_model=PortalCheckout,
    summary="Pay an invoice online",
    description=(
        "A new Stripe Checkout page for all the invoice still owes (send the payer to `url`); "
        "it replaces the invoice's earlier payment page, which stops taking money. Stripe "
        "sends the payer back to the portal's invoice page; the invoice shows paid once "
        "Stripe's webhook has reached billing. Client users only."
    ),
    responses={
        **CLIENT_ONLY,
        **NOT_FOUND,
        412: {"description": "Nothing is owed on the invoice (`invoice-not-payable`)"},
        503: {"description": "The payment provider could not be reached; nothing changed"},
    },
)
async def pay_invoice(
    invoice_id: uuid.UUID, caller: PortalClient, billing: Billing
) -> PortalCheckout:
    checkout = await billing.create_checkout(caller.principal, invoice_id)
    return PortalCheckout(
        url=checkout.url, amount_cents=checkout.amount_cents, currency=checkout.currency
    )
