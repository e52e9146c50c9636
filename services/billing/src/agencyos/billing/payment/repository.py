"""All SQL for payments, the invoice rows they change, and the Stripe bookkeeping tables
(`stripe_events`, `stripe_references`), which are not tenant-scoped: the webhook must find
the tenant before it can set it."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.models import Invoice, Payment
from agencyos.common.db import Repository


@dataclass(frozen=True)
class StripeOwner:
    """The agency and invoice a Stripe object belongs to."""

    tenant_id: uuid.UUID
    invoice_id: uuid.UUID


class PaymentRepository(Repository[Payment]):
    model = Payment

    async def lock_invoice(self, session: AsyncSession, invoice_id: uuid.UUID) -> Invoice | None:
        """The invoice (of the transaction's tenant), row-locked until the transaction ends:
        every change to an invoice's balance takes this lock first, so concurrent payments,
        webhooks and the scheduler apply one after the other and none is lost."""
        stmt = (
            select(Invoice)
            .where(Invoice.id == invoice_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def invoice_exists(self, session: AsyncSession, invoice_id: uuid.UUID) -> bool:
        found = await session.execute(select(Invoice.id).where(Invoice.id == invoice_id))
        return found.first() is not None

    async def list_for_invoice(
        self, session: AsyncSession, invoice_id: uuid.UUID, *, page: int, per_page: int
    ) -> tuple[Sequence[Payment], int]:
        stmt = (
            select(Payment)
            .where(Payment.invoice_id == invoice_id)
            .order_by(Payment.received_at, Payment.created_at, Payment.id)
        )
        return await self.paginate(session, stmt, page=page, per_page=per_page)

    async def get_for_invoice(
        self, session: AsyncSession, invoice_id: uuid.UUID, payment_id: uuid.UUID
    ) -> Payment | None:
        stmt = select(Payment).where(Payment.invoice_id == invoice_id, Payment.id == payment_id)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def stripe_payment(
        self,
        session: AsyncSession,
        invoice_id: uuid.UUID,
        *,
        payment_intent_id: str | None,
        charge_id: str | None,
        reference: str | None,
    ) -> Payment | None:
        """The (positive) payment already recorded for this Stripe payment: by payment
        intent, else by charge, else (a payment with no intent) by the Stripe reference."""
        base = select(Payment).where(
            Payment.invoice_id == invoice_id,
            Payment.method == "stripe",
            Payment.amount_cents > 0,
        )
        if payment_intent_id:
            stmt = base.where(Payment.stripe_payment_intent_id == payment_intent_id)
        elif charge_id:
            stmt = base.where(Payment.stripe_charge_id == charge_id)
        elif reference:
            stmt = base.where(Payment.reference == reference)
        else:
            return None
        return (await session.execute(stmt.limit(1))).scalar_one_or_none()

    async def refunded_cents(self, session: AsyncSession, charge_id: str) -> int:
        """What the refunds already recorded for a Stripe charge add up to (positive)."""
        total = (
            await session.execute(
                select(func.coalesce(func.sum(Payment.amount_cents), 0)).where(
                    Payment.stripe_charge_id == charge_id, Payment.amount_cents < 0
                )
            )
        ).scalar_one()
        return -int(total)

    # --- Stripe bookkeeping (not tenant-scoped) ---------------------------------------------

    async def claim_stripe_event(
        self,
        session: AsyncSession,
        event_id: str,
        event_type: str,
        stripe_created: datetime | None,
    ) -> bool:
        """Record the event id; False when it was recorded before (a replay). A concurrent
        delivery of the same id waits here until the first one commits or rolls back."""
        row = (
            await session.execute(
                text(
                    "INSERT INTO stripe_events (id, type, stripe_created, outcome) "
                    "VALUES (:id, :type, :created, 'processed') "
                    "ON CONFLICT (id) DO NOTHING RETURNING id"
                ),
                {"id": event_id, "type": event_type, "created": stripe_created},
            )
        ).first()
        return row is not None

    async def finish_stripe_event(
        self,
        session: AsyncSession,
        event_id: str,
        *,
        outcome: str,
        owner: StripeOwner | None,
    ) -> None:
        await session.execute(
            text(
                "UPDATE stripe_events SET outcome = :outcome, tenant_id = :tenant, "
                "invoice_id = :invoice WHERE id = :id"
            ),
            {
                "id": event_id,
                "outcome": outcome,
                "tenant": owner.tenant_id if owner else None,
                "invoice": owner.invoice_id if owner else None,
            },
        )

    async def stripe_owner(
        self, session: AsyncSession, stripe_ids: Sequence[str]
    ) -> StripeOwner | None:
        """Who the first of `stripe_ids` (in the order given) that billing knows belongs to."""
        ids = [i for i in stripe_ids if i]
        if not ids:
            return None
        rows = (
            await session.execute(
                text(
                    "SELECT stripe_id, tenant_id, invoice_id FROM stripe_references "
                    "WHERE stripe_id = ANY(:ids)"
                ),
                {"ids": ids},
            )
        ).all()
        by_id = {r.stripe_id: StripeOwner(r.tenant_id, r.invoice_id) for r in rows}
        for stripe_id in ids:
            if stripe_id in by_id:
                return by_id[stripe_id]
        return None

    async def remember_stripe_ids(
        self, session: AsyncSession, stripe_ids: Sequence[str], owner: StripeOwner
    ) -> None:
        """Note which invoice these Stripe objects belong to, for later events that carry
        no metadata (a refund names its charge and payment intent only). First writer wins."""
        for stripe_id in dict.fromkeys(i for i in stripe_ids if i):
            await session.execute(
                text(
                    "INSERT INTO stripe_references (stripe_id, tenant_id, invoice_id) "
                    "VALUES (:id, :tenant, :invoice) ON CONFLICT (stripe_id) DO NOTHING"
                ),
                {"id": stripe_id, "tenant": owner.tenant_id, "invoice": owner.invoice_id},
            )


payment_repository = PaymentRepository()
