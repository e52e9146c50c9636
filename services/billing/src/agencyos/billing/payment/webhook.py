"""Stripe's webhook: signature verification and what each event does.

Authentication is the `Stripe-Signature` header alone (the route is public): an HMAC-SHA256
of `"<t>.<raw body>"` under the endpoint's signing secret, checked with the official SDK over
the exact bytes received, and a timestamp `t` no older (and no further in the future) than the
tolerance, so a captured request cannot be replayed later.

Processing, in ONE transaction per delivery:
1. The Stripe event id goes into `stripe_events` first (`ON CONFLICT DO NOTHING`). A replay
   finds it there and changes nothing; a concurrent second delivery of the same id waits on
   the first's row and then sees it.
2. The agency and invoice come from `stripe_references` (the checkout session id the invoice
   sender stored; payment intent and charge ids billing stored when it first saw them), else
   from the object's `metadata.tenant_id` + `metadata.invoice_id` (the sender puts them on the
   session and on `payment_intent_data.metadata`). The transaction then takes that tenant
   (`app.tenant_id`), so row-level security scopes everything after it: metadata naming one
   agency and another agency's invoice finds nothing.
3. The invoice row is locked, the effect applied, the ids seen remembered, the event's outcome
   recorded. Anything unknown (an event type billing does not handle, an object of no invoice
   of ours, another currency) is answered 200 and recorded as `ignored` — Stripe would
   otherwise retry it for days — and logged.

Ordering: `checkout.session.completed` and `payment_intent.succeeded` report the same money;
whichever comes first records it (one payment row per payment intent, also a unique index) and
the other adds nothing. A `charge.refunded` seen before either records the payment from the
charge first, then the refund, so every order ends in the same balance and
`billing.invoice.paid` is published once.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.invoice.parties import bill_to, issuer
from agencyos.billing.invoice.status import InvoiceStatus
from agencyos.billing.models import Invoice
from agencyos.billing.payment.repository import StripeOwner, payment_repository
from agencyos.billing.payment.service import SERVICE, invoice_subject, payment_service
from agencyos.common.db import TENANT_SETTING, set_local, utcnow
from agencyos.common.errors import BadRequest
from agencyos.common.events import InvoicePaymentFailed
from agencyos.common.logs import bind, get_logger
from agencyos.common.outbox import publish

log = get_logger(__name__)

# Stripe's events are a few KB; anything far larger is not one.
MAX_PAYLOAD_BYTES = 512 * 1024
MAX_REASON_LENGTH = 500

HANDLED_EVENT_TYPES = (
    "checkout.session.completed",
    "checkout.session.async_payment_succeeded",
    "checkout.session.async_payment_failed",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "charge.refunded",
)


# --- verification -----------------------------------------------------------------------------


def _signed_timestamp(header: str) -> int | None:
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t":
            try:
                return int(value)
            except ValueError:
                return None
    return None


def verify_signature(
    payload: bytes,
    header: str | None,
    secret: str,
    *,
    tolerance_seconds: int,
    now: float | None = None,
) -> None:
    """Raise BadRequest unless `header` signs `payload` with `secret` within the tolerance."""
    if not header:
        raise BadRequest("the Stripe-Signature header is missing")
    try:
        stripe.WebhookSignature.verify_header(payload, header, secret, tolerance_seconds)
    except stripe.SignatureVerificationError as exc:
        reason = "is outside the tolerance" if "tolerance" in str(exc) else "does not verify"
        raise BadRequest(f"the Stripe-Signature {reason}") from exc
    except (UnicodeDecodeError, ValueError) as exc:
        raise BadRequest("the Stripe-Signature does not verify") from exc
    signed_at = _signed_timestamp(header)
    current = time.time() if now is None else now
    if signed_at is None or signed_at > current + tolerance_seconds:
        raise BadRequest("the Stripe-Signature is outside the tolerance")


class StripeEventData(BaseModel):
    model_config = ConfigDict(extra="ignore")

    object: dict[str, Any]


class StripeEvent(BaseModel):
    """The parts of a Stripe event (API object `event`) billing reads."""

    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=255)
    type: str = Field(min_length=1, max_length=100)
    created: int | None = None
    livemode: bool = False
    data: StripeEventData

    @property
    def created_at(self) -> datetime:
        """When Stripe recorded the event: the best "money received" time it gives."""
        if self.created is None:
            return utcnow()
        try:
            return datetime.fromtimestamp(self.created, UTC)
        except (OverflowError, OSError, ValueError):
            return utcnow()


def parse_event(
    payload: bytes, header: str | None, secret: str, *, tolerance_seconds: int
) -> StripeEvent:
    """The verified event in `payload`; BadRequest for anything unsigned, stale, tampered
    with, or not a Stripe event."""
    verify_signature(payload, header, secret, tolerance_seconds=tolerance_seconds)
    try:
        return StripeEvent.model_validate(json.loads(payload))
    except (ValueError, ValidationError) as exc:
        raise BadRequest("the body is not a Stripe event") from exc


# --- the objects inside events ----------------------------------------------------------------


def stripe_id(value: Any) -> str | None:
    """The id of an expandable field: a plain id, or the expanded object's `id`."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, dict) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


class _StripeObject(BaseModel):
    model_config = ConfigDict(extra="ignore")

    id: str = Field(min_length=1, max_length=255)
    currency: str | None = None
    metadata: dict[str, Any] | None = None


class CheckoutSession(_StripeObject):
    payment_intent: str | dict[str, Any] | None = None
    amount_total: int | None = None
    payment_status: str | None = None


class PaymentIntent(_StripeObject):
    amount_received: int = 0
    latest_charge: str | dict[str, Any] | None = None
    last_payment_error: dict[str, Any] | None = None


class Charge(_StripeObject):
    payment_intent: str | dict[str, Any] | None = None
    amount: int = 0
    amount_captured: int | None = None
    captured: bool | None = None
    amount_refunded: int = 0

    @property
    def captured_cents(self) -> int:
        if self.amount_captured is not None:
            return self.amount_captured
        return self.amount if self.captured else 0


# --- processing -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Handled:
    outcome: str  # processed | ignored
    owner: StripeOwner | None = None


IGNORED = Handled("ignored")

EventHandler = Callable[[AsyncSession, StripeEvent], Awaitable[Handled]]


def _owner_from_metadata(metadata: dict[str, Any] | None) -> StripeOwner | None:
    if not metadata:
        return None
    try:
        return StripeOwner(
            uuid.UUID(str(metadata["tenant_id"])), uuid.UUID(str(metadata["invoice_id"]))
        )
    except (KeyError, ValueError):
        return None


def _failure_reason(error: dict[str, Any] | None) -> str | None:
    if not error:
        return None
    for key in ("message", "decline_code", "code"):
        if isinstance(error.get(key), str) and error[key]:
            return str(error[key])[:MAX_REASON_LENGTH]
    return None


class StripeWebhookProcessor:
    def __init__(self) -> None:
        self.handlers: dict[str, EventHandler] = {
            "checkout.session.completed": self._checkout_paid,
            "checkout.session.async_payment_succeeded": self._checkout_paid,
            "checkout.session.async_payment_failed": self._checkout_failed,
            "payment_intent.succeeded": self._intent_succeeded,
            "payment_intent.payment_failed": self._intent_failed,
            "charge.refunded": self._charge_refunded,
        }

    async def process(self, session: AsyncSession, event: StripeEvent) -> str:
        """Handle one verified event in the caller's (tenant-less) transaction; answers
        `processed`, `ignored` or `duplicate`."""
        bind(stripe_event_id=event.id, stripe_event_type=event.type)
        created = event.created_at if event.created is not None else None
        if not await payment_repository.claim_stripe_event(session, event.id, event.type, created):
            log.info("stripe event already handled")
            return "duplicate"
        handler = self.handlers.get(event.type)
        if handler is None:
            log.info("stripe event type not handled; ignored")
            handled = IGNORED
        else:
            try:
                handled = await handler(session, event)
            except ValidationError as exc:
                log.warning("stripe event object not understood; ignored", error=str(exc))
                handled = IGNORED
        await payment_repository.finish_stripe_event(
            session, event.id, outcome=handled.outcome, owner=handled.owner
        )
        return handled.outcome

    async def _locate(
        self,
        session: AsyncSession,
        stripe_ids: Sequence[str | None],
        metadata: dict[str, Any] | None,
    ) -> tuple[StripeOwner, Invoice] | None:
        """The invoice the object belongs to, locked, with the transaction switched to its
        agency; None (logged) when it is no invoice of ours."""
        ids = [i for i in stripe_ids if i]
        owner = await payment_repository.stripe_owner(session, ids)
        if owner is None:
            owner = _owner_from_metadata(metadata)
        if owner is None:
            log.warning("stripe event for no known invoice; ignored", stripe_ids=ids)
            return None
        await set_local(session, {TENANT_SETTING: str(owner.tenant_id)})
        bind(tenant_id=str(owner.tenant_id), invoice_id=str(owner.invoice_id))
        invoice = await payment_repository.lock_invoice(session, owner.invoice_id)
        if invoice is None:
            log.warning("stripe event names an invoice that does not exist; ignored")
            return None
        await payment_repository.remember_stripe_ids(session, ids, owner)
        return owner, invoice

    @staticmethod
    def _same_currency(invoice: Invoice, currency: str | None) -> bool:
        if currency is None or currency.upper() == invoice.currency:
            return True
        log.error(
            "stripe amount in another currency than the invoice; ignored",
            stripe_currency=currency,
            invoice_currency=invoice.currency,
        )
        return False

    async def _checkout_paid(self, session: AsyncSession, event: StripeEvent) -> Handled:
        obj = CheckoutSession.model_validate(event.data.object)
        intent = stripe_id(obj.payment_intent)
        located = await self._locate(session, [obj.id, intent], obj.metadata)
        if located is None:
            return IGNORED
        owner, invoice = located
        if obj.payment_status != "paid" or not obj.amount_total or obj.amount_total <= 0:
            # e.g. a bank debit still pending: async_payment_succeeded brings the money
            log.info("checkout session not paid yet", payment_status=obj.payment_status)
            return Handled("processed", owner)
        if not self._same_currency(invoice, obj.currency):
            return Handled("ignored", owner)
        await payment_service.apply_stripe_payment(
            session,
            invoice,
            amount_cents=obj.amount_total,
            received_at=event.created_at,
            payment_intent_id=intent,
            charge_id=None,
            reference=obj.id,
        )
        return Handled("processed", owner)

    async def _intent_succeeded(self, session: AsyncSession, event: StripeEvent) -> Handled:
        obj = PaymentIntent.model_validate(event.data.object)
        charge = stripe_id(obj.latest_charge)
        located = await self._locate(session, [obj.id, charge], obj.metadata)
        if located is None:
            return IGNORED
        owner, invoice = located
        if obj.amount_received <= 0:
            return Handled("processed", owner)
        if not self._same_currency(invoice, obj.currency):
            return Handled("ignored", owner)
        await payment_service.apply_stripe_payment(
            session,
            invoice,
            amount_cents=obj.amount_received,
            received_at=event.created_at,
            payment_intent_id=obj.id,
            charge_id=charge,
            reference=obj.id,
        )
        return Handled("processed", owner)

    async def _publish_failure(
        self, session: AsyncSession, owner: StripeOwner, invoice: Invoice, reason: str | None
    ) -> Handled:
        # A failed attempt on an invoice that is paid (another attempt or a bank transfer
        # got there) or void is no news for anyone.
        if not InvoiceStatus(invoice.status).is_open:
            log.info("payment failure on a closed invoice; ignored", status=invoice.status)
            return Handled("processed", owner)
        await publish(
            session,
            InvoicePaymentFailed(
                invoice_id=invoice.id,
                client_id=invoice.client_id,
                number=invoice.number,
                reason=reason,
                amount_due_cents=invoice.amount_due_cents,
                currency=invoice.currency,
                payment_url=invoice.payment_url,
                bill_to=bill_to(invoice),
                issuer=issuer(invoice),
            ),
            source_service=SERVICE,
            subject=invoice_subject(invoice.id),
            tenant_id=invoice.tenant_id,
        )
        return Handled("processed", owner)

    async def _intent_failed(self, session: AsyncSession, event: StripeEvent) -> Handled:
        obj = PaymentIntent.model_validate(event.data.object)
        located = await self._locate(session, [obj.id, stripe_id(obj.latest_charge)], obj.metadata)
        if located is None:
            return IGNORED
        owner, invoice = located
        reason = _failure_reason(obj.last_payment_error) or "the payment failed"
        return await self._publish_failure(session, owner, invoice, reason)

    async def _checkout_failed(self, session: AsyncSession, event: StripeEvent) -> Handled:
        obj = CheckoutSession.model_validate(event.data.object)
        located = await self._locate(session, [obj.id, stripe_id(obj.payment_intent)], obj.metadata)
        if located is None:
            return IGNORED
        owner, invoice = located
        return await self._publish_failure(
            session, owner, invoice, "the delayed payment (e.g. a bank debit) failed"
        )

    async def _charge_refunded(self, session: AsyncSession, event: StripeEvent) -> Handled:
        obj = Charge.model_validate(event.data.object)
        intent = stripe_id(obj.payment_intent)
        located = await self._locate(session, [intent, obj.id], obj.metadata)
        if located is None:
            return IGNORED
        owner, invoice = located
        if not self._same_currency(invoice, obj.currency):
            return Handled("ignored", owner)
        await payment_service.apply_stripe_refund(
            session,
            invoice,
            charge_id=obj.id,
            payment_intent_id=intent,
            amount_captured_cents=obj.captured_cents,
            amount_refunded_cents=obj.amount_refunded,
            received_at=event.created_at,
        )
        return Handled("processed", owner)


stripe_webhook_processor = StripeWebhookProcessor()
