"""Money in: payments recorded by hand and through Stripe, and refunds, all through one
`apply_payment`. Services never commit: the edge owns the transaction, so a payment, the
invoice's new balance and status, and their events commit together (or not at all).

Balance and status (the invoice row is locked first, see `PaymentRepository.lock_invoice`;
the status rule is `InvoiceStatus.settled`, in the invoice's one state machine):
- `amount_paid_cents` is the sum of every payment minus every refund.
- Fully paid (`amount_paid_cents >= total_cents`) → `paid`, `paid_at` = when the completing
  payment arrived, and `billing.invoice.paid` is published — once per transition into
  `paid`, so one payment seen through several Stripe events (or replays) publishes it once.
- Partly paid → `partially_paid`; but an `overdue` invoice stays `overdue` until it is paid in
  full: overdue is the signal an agency acts on, and the money already in shows in
  `amount_paid_cents`.
- A refund that takes a paid invoice below its total sends it back to `partially_paid` (or
  `sent` when nothing is left) and clears `paid_at`; if it is past due, the scheduler marks it
  overdue again on its next tick (without a second overdue notice).
- Stripe money on a `draft` or `void` invoice (a session paid after the invoice was voided)
  is still recorded — it really arrived and someone has to give it back — but the status
  does not change and no `billing.invoice.paid` is published.
- Every payment and refund publishes `billing.payment.recorded`.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.invoice.parties import bill_to, issuer
from agencyos.billing.invoice.status import InvoiceStatus
from agencyos.billing.models import Invoice, Payment
from agencyos.billing.payment.repository import payment_repository
from agencyos.billing.payment.schemas import PaymentCreate
from agencyos.common.audit import SYSTEM, AuditActor, record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.errors import Conflict, InvalidInput, NotFound, field_error
from agencyos.common.events import InvoicePaid, PaymentRecorded
from agencyos.common.logs import get_logger
from agencyos.common.outbox import publish

log = get_logger(__name__)

SERVICE = "billing"
# A payment "received" a little in the future is clock skew; more is a mistake.
CLOCK_SKEW = timedelta(minutes=5)


def invoice_subject(invoice_id: uuid.UUID) -> str:
    return f"invoices/{invoice_id}"


class PaymentService:
    async def apply_payment(
        self,
        session: AsyncSession,
        invoice: Invoice,
        *,
        amount_cents: int,
        method: str,
        received_at: datetime,
        reference: str | None = None,
        stripe_payment_intent_id: str | None = None,
        stripe_charge_id: str | None = None,
        recorded_by: uuid.UUID | None = None,
        actor: Principal | AuditActor = SYSTEM,
    ) -> Payment:
        """Record a payment (> 0) or refund (< 0) on `invoice`, which the caller has locked
        (`payment_repository.lock_invoice`), and move its balance and status. Checks of
        what is allowed (manual payments only on open invoices, no overpaying) are the
        caller's: Stripe money is a fact and is always recorded. `actor` is who the audit
        log names: the caller for a manual payment, the platform for Stripe's."""
        if amount_cents == 0:
            raise ValueError("a payment moves money")
        payment = Payment(
            tenant_id=invoice.tenant_id,
            id=uuid.uuid4(),
            invoice_id=invoice.id,
            amount_cents=amount_cents,
            currency=invoice.currency,
            method=method,
            reference=reference,
            stripe_payment_intent_id=stripe_payment_intent_id,
            stripe_charge_id=stripe_charge_id,
            received_at=received_at,
            recorded_by=recorded_by,
        )
        session.add(payment)

        was_paid = invoice.status == InvoiceStatus.PAID
        before = {"status": invoice.status, "amount_paid_cents": invoice.amount_paid_cents}
        # never below zero: a refund can only give back what came in (Stripe guarantees it
        # per charge; this keeps the database check from turning an anomaly into a 500)
        paid = max(invoice.amount_paid_cents + amount_cents, 0)
        status = InvoiceStatus(invoice.status).settled(paid, invoice.total_cents).value
        invoice.amount_paid_cents = paid
        invoice.status = status
        becomes_paid = status == InvoiceStatus.PAID and not was_paid
        if becomes_paid:
            invoice.paid_at = received_at
        elif was_paid and status != InvoiceStatus.PAID:
            invoice.paid_at = None
        invoice.version += 1
        await session.flush()

        subject = invoice_subject(invoice.id)
        await publish(
            session,
            PaymentRecorded(
                payment_id=payment.id,
                invoice_id=invoice.id,
                client_id=invoice.client_id,
                amount_cents=amount_cents,
                currency=invoice.currency,
                method=method,
                invoice_status=status,
                amount_paid_cents=paid,
            ),
            source_service=SERVICE,
            subject=subject,
            tenant_id=invoice.tenant_id,
        )
        if becomes_paid:
            assert invoice.number is not None  # only a draft has no number
            await publish(
                session,
                InvoicePaid(
                    invoice_id=invoice.id,
                    client_id=invoice.client_id,
                    number=invoice.number,
                    total_cents=invoice.total_cents,
                    amount_cents=amount_cents,
                    currency=invoice.currency,
                    paid_at=received_at,
                    bill_to=bill_to(invoice),
                    issuer=issuer(invoice),
                ),
                source_service=SERVICE,
                subject=subject,
                tenant_id=invoice.tenant_id,
            )
        await self._audit(session, invoice, payment, actor, before, becomes_paid=becomes_paid)
        log.info(
            "payment recorded",
            invoice_id=str(invoice.id),
            amount_cents=amount_cents,
            method=method,
            status=status,
        )
        return payment

    @staticmethod
    async def _audit(
        session: AsyncSession,
        invoice: Invoice,
        payment: Payment,
        actor: Principal | AuditActor,
        before: dict[str, object],
        *,
        becomes_paid: bool,
    ) -> None:
        """The payment or refund, with the invoice's status and amount paid before and after;
        an invoice it pays in full is recorded as paid too."""
        after = {"status": invoice.status, "amount_paid_cents": invoice.amount_paid_cents}
        await record_audit(
            session,
            action="payment.refunded" if payment.amount_cents < 0 else "payment.recorded",
            entity_type="payment",
            entity_id=payment.id,
            actor=actor,
            source_service=SERVICE,
            before=before,
            after=after,
            detail={
                "invoice_id": str(invoice.id),
                "invoice_number": invoice.number,
                "amount_cents": payment.amount_cents,
                "currency": payment.currency,
                "method": payment.method,
                "reference": payment.reference,
            },
            tenant_id=invoice.tenant_id,
        )
        if becomes_paid:
            await record_audit(
                session,
                action="invoice.paid",
                entity_type="invoice",
                entity_id=invoice.id,
                actor=actor,
                source_service=SERVICE,
                before={"status": before["status"]},
                after={"status": invoice.status},
                detail={
                    "number": invoice.number,
                    "total_cents": invoice.total_cents,
                    "currency": invoice.currency,
                    "payment_id": str(payment.id),
                },
                tenant_id=invoice.tenant_id,
            )

    # --- manual payments (the API) ----------------------------------------------------------

    async def record_manual(
        self,
        session: AsyncSession,
        principal: Principal,
        invoice_id: uuid.UUID,
        body: PaymentCreate,
    ) -> tuple[Payment, Invoice]:
        received_at = body.received_at or utcnow()
        if received_at > utcnow() + CLOCK_SKEW:
            raise field_error("received_at", "a payment cannot be received in the future")
        invoice = await payment_repository.lock_invoice(session, invoice_id)
        if invoice is None:
            raise NotFound("no such invoice")
        if not InvoiceStatus(invoice.status).is_open:
            raise Conflict(
                f"payments can only be recorded on sent, partially paid or overdue invoices; "
                f"this one is {invoice.status}",
                extra={"invoice_status": invoice.status},
            )
        due = invoice.amount_due_cents
        if body.amount_cents > due:
            raise InvalidInput(
                f"the payment ({body.amount_cents}) is more than the amount due ({due})",
                errors=[
                    {
                        "field": "amount_cents",
                        "message": f"must not exceed the amount due ({due})",
                        "type": "overpayment",
                    }
                ],
                extra={"amount_due_cents": due},
            )
        payment = await self.apply_payment(
            session,
            invoice,
            amount_cents=body.amount_cents,
            method=body.method,
            received_at=received_at,
            reference=body.reference or None,
            recorded_by=principal.user_id,
            actor=principal,
        )
        return payment, invoice

    async def list_payments(
        self, session: AsyncSession, invoice_id: uuid.UUID, *, page: int, per_page: int
    ) -> tuple[Sequence[Payment], int]:
        if not await payment_repository.invoice_exists(session, invoice_id):
            raise NotFound("no such invoice")
        return await payment_repository.list_for_invoice(
            session, invoice_id, page=page, per_page=per_page
        )

    async def get_payment(
        self, session: AsyncSession, invoice_id: uuid.UUID, payment_id: uuid.UUID
    ) -> Payment:
        payment = await payment_repository.get_for_invoice(session, invoice_id, payment_id)
        if payment is None:
            raise NotFound("no such payment on this invoice")
        return payment

    # --- Stripe (the webhook) ---------------------------------------------------------------

    async def apply_stripe_payment(
        self,
        session: AsyncSession,
        invoice: Invoice,
        *,
        amount_cents: int,
        received_at: datetime,
        payment_intent_id: str | None,
        charge_id: str | None,
        reference: str | None,
    ) -> Payment | None:
        """Record a Stripe payment unless this payment intent (or charge) was recorded
        already — `checkout.session.completed` and `payment_intent.succeeded` both report
        the same money, in either order. Answers the new payment, or None."""
        existing = await payment_repository.stripe_payment(
            session,
            invoice.id,
            payment_intent_id=payment_intent_id,
            charge_id=charge_id,
            reference=reference,
        )
        if existing is not None:
            if charge_id and existing.stripe_charge_id is None:
                existing.stripe_charge_id = charge_id
                await session.flush()
            return None
        return await self.apply_payment(
            session,
            invoice,
            amount_cents=amount_cents,
            method="stripe",
            received_at=received_at,
            reference=reference,
            stripe_payment_intent_id=payment_intent_id,
            stripe_charge_id=charge_id,
        )

    async def apply_stripe_refund(
        self,
        session: AsyncSession,
        invoice: Invoice,
        *,
        charge_id: str,
        payment_intent_id: str | None,
        amount_captured_cents: int,
        amount_refunded_cents: int,
        received_at: datetime,
    ) -> list[Payment]:
        """Bring the refunds recorded for a charge up to Stripe's running total
        (`amount_refunded`): each event adds only the part not yet recorded, so replays and
        a second refund event are harmless. A refund seen before the payment it refunds
        (events arrive out of order) first records that payment from the charge — the
        charge proves the money came in — and the late payment events then add nothing."""
        recorded: list[Payment] = []
        if amount_captured_cents > 0:
            payment = await self.apply_stripe_payment(
                session,
                invoice,
                amount_cents=amount_captured_cents,
                received_at=received_at,
                payment_intent_id=payment_intent_id,
                charge_id=charge_id,
                reference=charge_id,
            )
            if payment is not None:
                recorded.append(payment)
        delta = amount_refunded_cents - await payment_repository.refunded_cents(session, charge_id)
        if delta > 0:
            recorded.append(
                await self.apply_payment(
                    session,
                    invoice,
                    amount_cents=-delta,
                    method="stripe",
                    received_at=received_at,
                    reference=charge_id,
                    stripe_payment_intent_id=payment_intent_id,
                    stripe_charge_id=charge_id,
                )
            )
        return recorded


payment_service = PaymentService()
