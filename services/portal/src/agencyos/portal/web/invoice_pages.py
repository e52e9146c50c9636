"""The client's invoices as pages: the list with what is due, one invoice with its lines and
receipts (the payments received), its PDF, and Pay, which makes a fresh Stripe Checkout page
through billing and sends the browser there (Stripe brings it back to the invoice's page)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse
from starlette.responses import Response

from agencyos.common.errors import NotFound
from agencyos.common.peers.billing import InvoiceFilter
from agencyos.portal.web.context import load_page, parse_id
from agencyos.portal.web.render import render, with_page_headers

router = APIRouter(prefix="/portal", include_in_schema=False)


@router.get("/{slug}/invoices")
async def invoices_page(request: Request, slug: str) -> Response:
    page = await load_page(request, slug, signed_in=True)
    found = await page.billing().client_invoices(page.require_caller().principal, InvoiceFilter.ALL)
    await page.save()
    return render(page, "invoices.html", invoices=found.invoices, open_due=found.open_due)


@router.get("/{slug}/invoices/{invoice_id}")
async def invoice_page(request: Request, slug: str, invoice_id: str) -> Response:
    page = await load_page(request, slug, signed_in=True)
    wanted = parse_id(invoice_id)
    if wanted is None:
        raise NotFound("no such invoice")
    invoice = await page.billing().client_invoice(page.require_caller().principal, wanted)
    await page.save()
    returned = request.query_params.get("paid") == "1"
    return render(
        page,
        "invoice.html",
        invoice=invoice,
        returned_from_checkout=returned and invoice.status != "paid",
    )


@router.get("/{slug}/invoices/{invoice_id}/pdf")
async def invoice_pdf(request: Request, slug: str, invoice_id: str) -> Response:
    page = await load_page(request, slug, signed_in=True)
    wanted = parse_id(invoice_id)
    if wanted is None:
        raise NotFound("no such invoice")
    pdf = await page.billing().client_invoice_pdf(page.require_caller().principal, wanted)
    await page.save()
    response = Response(
        content=pdf.content,
        media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="{pdf.filename}"'},
    )
    return with_page_headers(response)


@router.post("/{slug}/invoices/{invoice_id}/pay")
async def pay(
    request: Request,
    slug: str,
    invoice_id: str,
    csrf_token: Annotated[str | None, Form()] = None,
) -> Response:
    page = await load_page(request, slug, signed_in=True)
    page.check_form(csrf_token)
    wanted = parse_id(invoice_id)
    if wanted is None:
        raise NotFound("no such invoice")
    checkout = await page.billing().create_checkout(page.require_caller().principal, wanted)
    await page.save()
    return with_page_headers(RedirectResponse(checkout.url, status_code=303))
