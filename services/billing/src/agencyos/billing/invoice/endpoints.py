"""/v1/invoices: drafts from unbilled time and milestones, manual lines, sending (number and
payment page), voiding, lists with totals, and the PDF."""

import asyncio
import re
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from agencyos.billing.checkout.provider import payment_provider
from agencyos.billing.invoice.document import document_service
from agencyos.billing.invoice.document_link import document_links
from agencyos.billing.invoice.issuing import issuing_service
from agencyos.billing.invoice.pdf import Document, render
from agencyos.billing.invoice.permissions import InvoicesRead, InvoicesWrite
from agencyos.billing.invoice.repository import InvoiceFilters
from agencyos.billing.invoice.schemas import (
    Invoice,
    InvoiceCreate,
    InvoiceList,
    InvoiceSort,
    InvoiceUpdate,
    InvoiceVoid,
    LineCreate,
    LineUpdate,
    StatusTotals,
    invoice_out,
    summary_out,
)
from agencyos.billing.invoice.service import InvoiceView, invoice_service
from agencyos.billing.invoice.status import InvoiceStatus
from agencyos.billing.peers import Peers
from agencyos.common.db import utcnow
from agencyos.common.pagination import Pagination
from agencyos.common.types import IsoDate
from agencyos.common.web import TenantSession, TenantTransactions, service_context

router = APIRouter(prefix="/v1/invoices", tags=["invoices"])

_ROUNDING = (
    "Money is integer minor units. A time line bills the exact seconds of its entries at one "
    "hourly rate, `amount_cents = round(seconds x rate / 3600)`, and shows `quantity` as hours "
    "with 4 decimals; a manual line bills `round(quantity x unit_price_cents)`; each line's "
    "`tax_cents = round(amount_cents x tax_rate_bps / 10000)`. `round` is half up (half away "
    "from zero), once per line; subtotal, tax and total are plain sums of the lines."
)
_STATUS_ORDER = [s.value for s in InvoiceStatus]

_403: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller lacks the permission (members and client users do)"}
}
_404: dict[int | str, dict[str, Any]] = {404: {"description": "No such invoice in your agency"}}
_409_DRAFT: dict[int | str, dict[str, Any]] = {
    409: {"description": "The invoice is not a draft (`invoice-not-draft`)"}
}
_422: dict[int | str, dict[str, Any]] = {422: {"description": "Invalid fields (named in `errors`)"}}
_503: dict[int | str, dict[str, Any]] = {
    503: {"description": "A service billing depends on (time, CRM, Stripe) is unavailable"}
}


def _out(view: InvoiceView) -> Invoice:
    return invoice_out(view.invoice, view.lines)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Invoice,
    summary="Create a draft invoice",
    description=(
        "Builds a **draft** for one client from its unbilled, approved, billable time "
        "(`include: time`, reserved through the time service under this invoice, so no entry "
        "is ever on two invoices even when invoice runs race) and its completed, unbilled "
        "milestones (`include: milestones`), optionally only of `project_ids` and of time "
        "logged (milestones completed) within `period_from`..`period_to`. Time becomes one line "
        "per `group_by` group (member, task or project) **and** hourly rate; each milestone one "
        "line. Generated lines carry `tax_rate_bps` (default: the agency's default tax rate).\n\n"
        f"{_ROUNDING}\n\n"
        "The invoice has one currency: `currency`, else the client's, else the agency's. "
        "Selected time or milestones in another currency answer 422 `currency-mismatch` naming "
        "them in `mismatched` (nothing is converted or reserved); billable time without a rate "
        "answers 422 `unpriced-time` naming the entries. When the selection holds nothing to "
        'bill the answer is 422 `nothing-to-invoice`; `"include": []` makes an empty draft '
        "for manual lines only. `due_in_days` defaults to the agency's payment terms. "
        "Needs `invoices.write`."
    ),
    responses={
        **_403,
        422: {
            "description": "Invalid fields; a client_id that is not your agency's client, "
            "project_ids not of that client; `currency-mismatch`, `unpriced-time`, "
            "`nothing-to-invoice`"
        },
        **_503,
    },
)
async def create_invoice(
    body: InvoiceCreate,
    principal: InvoicesWrite,
    transactions: TenantTransactions,
    request: Request,
    response: Response,
) -> Invoice:
    view = await invoice_service.create(transactions, principal, Peers.of(request), body)
    response.headers["Location"] = f"/v1/invoices/{view.invoice.id}"
    return _out(view)


@router.get(
    "",
    response_model=InvoiceList,
    summary="List invoices, with totals by status",
    description=(
        "Filters combine with AND: `status`, `client_id`, `project_id` (invoices covering that "
        "project), `issue_from`/`issue_to` and `due_from`/`due_to` (inclusive dates), "
        "`overdue=true` (marked overdue, or sent and unpaid past the due date in the agency's "
        "time zone; `false` the rest). `sort`: created_at (default `-created_at`), issue_date, "
        "due_date, number, total_cents, `-` for descending.\n\n"
        "`totals` sums every invoice matching the filters (not only this page) per status and "
        "currency: count, `total_cents`, `amount_paid_cents`, `amount_due_cents`. Needs "
        "`invoices.read`."
    ),
    responses={**_403, **_422},
)
async def list_invoices(
    principal: InvoicesRead,
    session: TenantSession,
    pagination: Pagination,
    request: Request,
    status_filter: Annotated[InvoiceStatus | None, Query(alias="status")] = None,
    client_id: uuid.UUID | None = None,
    project_id: uuid.UUID | None = None,
    issue_from: IsoDate | None = None,
    issue_to: IsoDate | None = None,
    due_from: IsoDate | None = None,
    due_to: IsoDate | None = None,
    overdue: bool | None = None,
    sort: InvoiceSort = InvoiceSort.CREATED_AT_DESC,
) -> InvoiceList:
    today = None
    if overdue is not None:
        today = invoice_service.today(await Peers.of(request).identity.agency(principal))
    filters = InvoiceFilters(
        status=status_filter.value if status_filter else None,
        client_id=client_id,
        project_id=project_id,
        issue_from=issue_from,
        issue_to=issue_to,
        due_from=due_from,
        due_to=due_to,
        overdue=overdue,
        today=today,
    )
    items, total, totals = await invoice_service.list_invoices(
        session, principal, pagination, filters, sort.value
    )
    totals.sort(key=lambda t: (_STATUS_ORDER.index(t.status), t.currency))
    return InvoiceList(
        items=[summary_out(i) for i in items],
        total=total,
        page=pagination.page,
        per_page=pagination.per_page,
        totals=[
            StatusTotals(
                status=InvoiceStatus(t.status),
                currency=t.currency,
                count=t.count,
                total_cents=t.total_cents,
                amount_paid_cents=t.amount_paid_cents,
                amount_due_cents=t.amount_due_cents,
            )
            for t in totals
        ],
    )


@router.get(
    "/{invoice_id}",
    response_model=Invoice,
    summary="Get an invoice with its lines",
    description=f"Needs `invoices.read`. {_ROUNDING}",
    responses={**_403, **_404},
)
async def get_invoice(
    invoice_id: uuid.UUID, principal: InvoicesRead, session: TenantSession
) -> Invoice:
    return _out(await invoice_service.get(session, principal, invoice_id))


@router.patch(
    "/{invoice_id}",
    response_model=Invoice,
    summary="Update a draft's notes or payment terms",
    description=(
        "Only the fields sent change; `notes: null` clears the notes. Drafts only. Needs "
        "`invoices.write`."
    ),
    responses={**_403, **_404, **_409_DRAFT, **_422},
)
async def update_invoice(
    invoice_id: uuid.UUID, body: InvoiceUpdate, principal: InvoicesWrite, session: TenantSession
) -> Invoice:
    return _out(await invoice_service.update(session, principal, invoice_id, body))


@router.delete(
    "/{invoice_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a draft",
    description=(
        "The draft and its lines go; its reserved time and its milestones are unbilled again "
        "(a later invoice picks them up). Sent invoices are voided, never deleted. Needs "
        "`invoices.write`."
    ),
    responses={**_403, **_404, **_409_DRAFT, **_503},
)
async def delete_invoice(
    invoice_id: uuid.UUID,
    principal: InvoicesWrite,
    transactions: TenantTransactions,
    request: Request,
) -> Response:
    await invoice_service.delete(transactions, principal, Peers.of(request), invoice_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/{invoice_id}/lines",
    status_code=status.HTTP_201_CREATED,
    response_model=Invoice,
    summary="Add a manual line to a draft",
    description=(
        "Appends a line and answers the whole invoice with its new totals. A negative "
        "`unit_price_cents` makes a discount line. `tax_rate_bps` defaults to the agency's "
        f"default rate. {_ROUNDING} Drafts only (at most 500 lines). Needs `invoices.write`."
    ),
    responses={**_403, **_404, **_409_DRAFT, **_422},
)
async def add_line(
    invoice_id: uuid.UUID,
    body: LineCreate,
    principal: InvoicesWrite,
    session: TenantSession,
    request: Request,
) -> Invoice:
    default_tax = 0
    if body.tax_rate_bps is None:
        default_tax = (await Peers.of(request).identity.agency(principal)).default_tax_rate_bps
    return _out(await invoice_service.add_line(session, principal, invoice_id, body, default_tax))


@router.patch(
    "/{invoice_id}/lines/{line_id}",
    response_model=Invoice,
    summary="Change a line of a draft",
    description=(
        "Only the fields sent change; amounts and totals are recomputed. Lines made from time "
        "or a milestone take a new `description` or `tax_rate_bps` only (409 "
        "`line-not-editable` for quantity or price). Drafts only. Needs `invoices.write`."
    ),
    responses={
        **_403,
        404: {"description": "No such invoice, or no such line on it"},
        409: {"description": "Not a draft, or the line's quantity/price come from time"},
        **_422,
    },
)
async def update_line(
    invoice_id: uuid.UUID,
    line_id: uuid.UUID,
    body: LineUpdate,
    principal: InvoicesWrite,
    session: TenantSession,
) -> Invoice:
    return _out(await invoice_service.update_line(session, principal, invoice_id, line_id, body))


@router.delete(
    "/{invoice_id}/lines/{line_id}",
    response_model=Invoice,
    summary="Remove a line from a draft",
    description=(
        "Answers the invoice with its new totals. A milestone line's milestone is unbilled "
        "again. A time line cannot be removed (409 `line-not-editable`): time is reserved per "
        "invoice, so delete the draft (releasing its time) and build it again with a narrower "
        "`project_ids` or period. Drafts only. Needs `invoices.write`."
    ),
    responses={
        **_403,
        404: {"description": "No such invoice, or no such line on it"},
        409: {"description": "Not a draft, or a time line"},
    },
)
async def delete_line(
    invoice_id: uuid.UUID, line_id: uuid.UUID, principal: InvoicesWrite, session: TenantSession
) -> Invoice:
    return _out(await invoice_service.delete_line(session, principal, invoice_id, line_id))


@router.post(
    "/{invoice_id}/send",
    response_model=Invoice,
    summary="Send a draft: number it and open its payment page",
    description=(
        "Assigns the agency's next number (`<invoice_prefix><number, at least 4 digits>`, e.g. "
        "`INV-0042`: sequential and gapless in the order invoices are sent, never reused), sets "
        "`issue_date` (today in the agency's time zone) and `due_date` (+ `due_in_days`), "
        "creates the client's Stripe customer (once per client) and a Stripe Checkout Session "
        "for the total (`payment_url`), marks the invoice's time as invoiced and its milestones "
        "as billed, and publishes `billing.invoice.sent`. The payment page is made before the "
        "number is taken, so a Stripe failure (503) consumes no number and changes nothing. "
        "Only a draft with a total above zero can be sent (409 `invoice-not-sendable`, also "
        "for a second send). Needs `invoices.write`, and a verified email address (403 "
        "`email-not-verified` until the sender has verified theirs and refreshed their token)."
    ),
    responses={
        **_403,
        **_404,
        409: {
            "description": "Not a draft (already sent), total not above zero, or the draft "
            "changed while being sent"
        },
        **_503,
    },
)
async def send_invoice(
    invoice_id: uuid.UUID,
    principal: InvoicesWrite,
    transactions: TenantTransactions,
    request: Request,
) -> Invoice:
    view = await issuing_service.send(
        transactions,
        principal,
        Peers.of(request),
        payment_provider(request),
        document_links(request),
        invoice_id,
    )
    return _out(view)


@router.post(
    "/{invoice_id}/payment-link",
    response_model=Invoice,
    summary="Renew the invoice's payment page",
    description=(
        "A Stripe Checkout page lives at most 24 hours; an invoice waits for its money for "
        "weeks. This makes a new page for what is still owed (the total less payments "
        "recorded, so a partly paid invoice asks only for the rest), puts its URL on the "
        "invoice as `payment_url` and closes the previous page. Only a `sent`, `overdue` or "
        "`partially_paid` invoice has one (else 409 `invoice-not-payable`). Needs "
        "`invoices.write`."
    ),
    responses={
        **_403,
        **_404,
        409: {"description": "Not payable (draft, paid, void), or changed meanwhile"},
        **_503,
    },
)
async def renew_payment_link(
    invoice_id: uuid.UUID,
    principal: InvoicesWrite,
    transactions: TenantTransactions,
    request: Request,
) -> Invoice:
    view = await issuing_service.renew_payment_link(
        transactions,
        principal,
        Peers.of(request),
        payment_provider(request),
        invoice_id,
    )
    return _out(view)


@router.post(
    "/{invoice_id}/void",
    response_model=Invoice,
    summary="Void a sent invoice",
    description=(
        "A sent (or overdue) invoice with no payment recorded becomes `void` and keeps its "
        "number (never reused). Its time entries and milestones are unbilled again, its "
        "payment page is closed, and `billing.invoice.voided` is published. A draft is deleted "
        "instead; a paid or partly paid invoice, or one already void, answers 409 "
        "`invoice-not-voidable`. Needs `invoices.write`."
    ),
    responses={**_403, **_404, 409: {"description": "Draft, void, or money received"}, **_422},
)
async def void_invoice(
    invoice_id: uuid.UUID,
    principal: InvoicesWrite,
    transactions: TenantTransactions,
    request: Request,
    body: InvoiceVoid | None = None,
) -> Invoice:
    view = await issuing_service.void(
        transactions,
        principal,
        Peers.of(request),
        payment_provider(request),
        invoice_id,
        body or InvoiceVoid(),
    )
    return _out(view)


@router.get(
    "/{invoice_id}/pdf",
    response_class=Response,
    summary="The invoice as a PDF",
    description=(
        "A printable PDF: the agency's name, brand colour and logo (a `data:image/...;base64` "
        "logo is embedded; an https logo is fetched with a 3-second timeout and a 512 KiB cap "
        "and left out when that fails), its address and tax number and footer from the billing "
        "settings, the client with its billing address, number, dates, lines, tax per rate, "
        "totals and the payment link. Drafts are marked DRAFT and void invoices VOID. A sent "
        "invoice shows the agency and the client as they were when it was sent. Needs "
        "`invoices.read`."
    ),
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The PDF document"},
        **_403,
        **_404,
    },
)
async def invoice_pdf(
    invoice_id: uuid.UUID, principal: InvoicesRead, session: TenantSession, request: Request
) -> Response:
    document = await document_service.document(session, principal, Peers.of(request), invoice_id)
    return await _pdf_response(document)


@router.get(
    "/{invoice_id}/document",
    response_class=Response,
    summary="The invoice as a PDF, through a signed link (no login)",
    description=(
        "The same PDF as `GET /v1/invoices/{invoice_id}/pdf`, for whoever holds the link "
        "`billing.invoice.sent` carries as `document_url` (the client's email attaches and "
        "links to it): no token. The link names the agency (`tenant_id`) and its expiry "
        "(`expires`, Unix seconds) and is signed by billing (`signature`, HMAC-SHA256); the "
        "PDF is read under that agency only. A link changed in any part answers 403 "
        "`document-link-invalid`, an expired one 410 `document-link-expired`. Only an "
        "invoice that went out (sent, partly paid, paid, overdue) is shown; a draft or a "
        "void invoice answers 404."
    ),
    responses={
        200: {"content": {"application/pdf": {}}, "description": "The PDF document"},
        403: {"description": "Not a link billing signed (`document-link-invalid`)"},
        404: {"description": "No such invoice that went out, in the link's agency"},
        410: {"description": "The link has expired (`document-link-expired`)"},
        **_422,
    },
)
async def linked_invoice_document(
    invoice_id: uuid.UUID,
    request: Request,
    tenant_id: uuid.UUID,
    expires: int,
    signature: Annotated[str, Query(max_length=128)],
) -> Response:
    document_links(request).check(tenant_id, invoice_id, expires, signature, utcnow())
    # The agency is the signed link's: nothing else of this request is trusted.
    async with service_context(request).database().transaction(tenant_id) as session:
        document = await document_service.linked_document(session, invoice_id)
        return await _pdf_response(document)


async def _pdf_response(document: Document) -> Response:
    content = await asyncio.to_thread(render, document)
    invoice = document.invoice
    name = re.sub(r"[^A-Za-z0-9._-]", "-", invoice.number or f"draft-{invoice.id}")
    return Response(
        content=content,
        media_type="application/pdf",
        headers={"Content-Disposition": f'inline; filename="{name}.pdf"'},
    )
