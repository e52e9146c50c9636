"""Payments on invoices (`/v1/invoices/{id}/payments`) and Stripe's webhook
(`POST /v1/webhooks/stripe`)."""

import uuid
from typing import Annotated, Any, cast

from fastapi import APIRouter, Header, Request, Response, status

from agencyos.billing.payment.permissions import InvoicesRead, InvoicesWrite
from agencyos.billing.payment.schemas import (
    InvoiceBalance,
    Payment,
    PaymentCreate,
    PaymentRecorded,
    StripeWebhookAck,
)
from agencyos.billing.payment.service import payment_service
from agencyos.billing.payment.webhook import (
    HANDLED_EVENT_TYPES,
    MAX_PAYLOAD_BYTES,
    parse_event,
    stripe_webhook_processor,
)
from agencyos.billing.settings import BillingSettings
from agencyos.common.errors import PayloadTooLarge
from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession, service_context

router = APIRouter(tags=["payments"])

_READ_403: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller lacks `invoices.read` (managers and above)"}
}
_WRITE_403: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller lacks `invoices.write` (managers and above)"}
}
_NO_INVOICE: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such invoice in your agency"}
}


@router.post(
    "/v1/invoices/{invoice_id}/payments",
    status_code=status.HTTP_201_CREATED,
    response_model=PaymentRecorded,
    summary="Record a payment received outside Stripe",
    description=(
        "Records money received by bank transfer, cash or otherwise on a sent, partially "
        "paid or overdue invoice, and answers the payment with the invoice's new balance. "
        "Partial payments are fine; more than the amount still due is refused (422). A "
        "payment that completes the total makes the invoice `paid` (`paid_at` = its "
        "`received_at`) and publishes `billing.invoice.paid`; a partial one makes it "
        "`partially_paid` — an `overdue` invoice stays `overdue` until it is paid in full. "
        "Every payment publishes `billing.payment.recorded`. Concurrent payments on one "
        "invoice apply one after the other (the invoice row is locked), so none is lost and "
        "together they can never overpay. Send an `Idempotency-Key` to retry safely. "
        "Needs `invoices.write`."
    ),
    responses={
        **_WRITE_403,
        **_NO_INVOICE,
        409: {"description": "The invoice is a draft, void or already paid"},
        422: {
            "description": "Invalid fields; `amount_cents` above the amount due "
            "(`amount_due_cents` says how much is), or `received_at` in the future"
        },
    },
)
async def record_payment(
    invoice_id: uuid.UUID,
    body: PaymentCreate,
    principal: InvoicesWrite,
    session: TenantSession,
    response: Response,
) -> PaymentRecorded:
    payment, invoice = await payment_service.record_manual(session, principal, invoice_id, body)
    response.headers["Location"] = f"/v1/invoices/{invoice_id}/payments/{payment.id}"
    balance = InvoiceBalance(
        id=invoice.id,
        status=invoice.status,
        currency=invoice.currency,
        total_cents=invoice.total_cents,
        amount_paid_cents=invoice.amount_paid_cents,
        amount_due_cents=invoice.amount_due_cents,
        paid_at=invoice.paid_at,
    )
    return PaymentRecorded(**Payment.fields_of(payment), invoice=balance)


@router.get(
    "/v1/invoices/{invoice_id}/payments",
    response_model=Page[Payment],
    summary="List an invoice's payments and refunds",
    description=(
        "Every payment (`amount_cents` > 0) and refund (< 0) on the invoice, manual and "
        "Stripe, oldest `received_at` first. Needs `invoices.read`."
    ),
    responses={**_READ_403, **_NO_INVOICE},
)
async def list_payments(
    invoice_id: uuid.UUID, principal: InvoicesRead, session: TenantSession, pagination: Pagination
) -> Page[Payment]:
    rows, total = await payment_service.list_payments(
        session, invoice_id, page=pagination.page, per_page=pagination.per_page
    )
    return pagination.page_of([Payment.of(r) for r in rows], total)


@router.get(
    "/v1/invoices/{invoice_id}/payments/{payment_id}",
    response_model=Payment,
    summary="Get one payment or refund of an invoice",
    description="Needs `invoices.read`.",
    responses={**_READ_403, 404: {"description": "No such invoice or payment in your agency"}},
)
async def get_payment(
    invoice_id: uuid.UUID, payment_id: uuid.UUID, principal: InvoicesRead, session: TenantSession
) -> Payment:
    return Payment.of(await payment_service.get_payment(session, invoice_id, payment_id))


_WEBHOOK_DESCRIPTION = (
    "Stripe calls this endpoint; it takes no token. **The `Stripe-Signature` header is the "
    'authentication**: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>" under the '
    "endpoint's signing secret>` (AGENCYOS_BILLING_STRIPE_WEBHOOK_SECRET). A missing or "
    "malformed header, a signature under another secret, a body changed after signing, or a "
    "timestamp more than the tolerance (default 300 s) away from now is answered 400 and "
    "changes nothing.\n\n"
    "Handled events:\n"
    "- `checkout.session.completed` (with `payment_status` = `paid`) and "
    "`checkout.session.async_payment_succeeded`: records a Stripe payment of `amount_total`.\n"
    "- `payment_intent.succeeded`: records `amount_received` — unless that payment intent is "
    "recorded already (the checkout event and this one report the same money; either order "
    "records it once).\n"
    "- `payment_intent.payment_failed`, `checkout.session.async_payment_failed`: publishes "
    "`billing.invoice.payment_failed` for an open invoice; the status does not change.\n"
    "- `charge.refunded`: records as a refund (a negative payment) whatever part of the "
    "charge's `amount_refunded` is not recorded yet; a paid invoice goes back to "
    "`partially_paid` or `sent`.\n\n"
    "A fully paid invoice publishes `billing.invoice.paid` once. Each event id is processed "
    "once: a replay answers 200 with `outcome` = `duplicate` and changes nothing. Other event "
    "types, and events about no invoice of ours, answer 200 with `outcome` = `ignored`. The "
    "invoice is found through the Stripe ids billing stored when it created the checkout "
    "session, else through `metadata.tenant_id` and `metadata.invoice_id`."
)


@router.post(
    "/v1/webhooks/stripe",
    response_model=StripeWebhookAck,
    summary="Stripe webhook (signed by Stripe; no token)",
    description=_WEBHOOK_DESCRIPTION,
    responses={
        400: {
            "description": "Unsigned, wrongly signed, tampered with, stale, or not a Stripe event"
        },
        413: {"description": "The body is far larger than any Stripe event"},
    },
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "A Stripe event, exactly as Stripe sent it (the signature covers "
            "the raw bytes). Handled types: " + ", ".join(HANDLED_EVENT_TYPES) + ".",
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "required": ["id", "type", "data"],
                        "properties": {
                            "id": {"type": "string", "example": "evt_1QxYz"},
                            "object": {"type": "string", "example": "event"},
                            "type": {"type": "string", "example": "checkout.session.completed"},
                            "created": {"type": "integer", "example": 1764770000},
                            "data": {
                                "type": "object",
                                "required": ["object"],
                                "properties": {"object": {"type": "object"}},
                            },
                        },
                    }
                }
            },
        }
    },
)
async def stripe_webhook(
    request: Request,
    stripe_signature: Annotated[
        str | None,
        Header(
            alias="Stripe-Signature",
            description='t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">',
        ),
    ] = None,
) -> StripeWebhookAck:
    payload = await _raw_body(request)
    ctx = service_context(request)
    settings = cast(BillingSettings, ctx.settings)
    event = parse_event(
        payload,
        stripe_signature,
        settings.stripe_webhook_secret,
        tolerance_seconds=settings.stripe_webhook_tolerance_seconds,
    )
    # The tenant is unknown until the event names its invoice: the processor sets it on
    # this same transaction once it has found it.
    async with ctx.database().transaction(None) as session:
        outcome = await stripe_webhook_processor.process(session, event)
    return StripeWebhookAck(event_id=event.id, outcome=cast(Any, outcome))


async def _raw_body(request: Request) -> bytes:
    """The body exactly as received (the signature covers these bytes), bounded."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge("a Stripe event is never this large")
    chunks = bytearray()
    async for chunk in request.stream():
        chunks.extend(chunk)
        if len(chunks) > MAX_PAYLOAD_BYTES:
            raise PayloadTooLarge("a Stripe event is never this large")
    return bytes(chunks)
