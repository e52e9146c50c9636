"""The SQL of a client's view of its invoices: only what went out to the client (sent, partly
paid, overdue, paid), never a draft or a void invoice, and only the client's own; row-level
security keeps the agency's."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.invoice.status import InvoiceStatus
from agencyos.billing.models import Invoice, Payment

# What a client ever sees of its invoices.
SHOWN: frozenset[InvoiceStatus] = frozenset(
    {InvoiceStatus.SENT, InvoiceStatus.PARTIALLY_PAID, InvoiceStatus.OVERDUE, InvoiceStatus.PAID}
)
MAX_LISTED = 500


class ClientInvoiceRepository:
    async def of_client(
        self, session: AsyncSession, client_id: uuid.UUID, statuses: Collection[InvoiceStatus]
    ) -> Sequence[Invoice]:
        """The client's invoices in `statuses` (shown ones only), newest issue date first."""
        wanted = [s.value for s in statuses if s in SHOWN]
        stmt = (
            select(Invoice)
            .where(Invoice.client_id == client_id, Invoice.status.in_(wanted))
            .order_by(Invoice.issue_date.desc().nulls_last(), Invoice.number.desc(), Invoice.id)
            .limit(MAX_LISTED)
        )
        return (await session.execute(stmt)).scalars().all()

    async def get(
        self, session: AsyncSession, client_id: uuid.UUID, invoice_id: uuid.UUID
    ) -> Invoice | None:
        """The client's invoice if the client may see it (None otherwise, whatever the
        reason: another client's, a draft, a void one, unknown)."""
        stmt = select(Invoice).where(
            Invoice.id == invoice_id,
            Invoice.client_id == client_id,
            Invoice.status.in_([s.value for s in SHOWN]),
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def payments(self, session: AsyncSession, invoice_id: uuid.UUID) -> Sequence[Payment]:
        stmt = (
            select(Payment)
            .where(Payment.invoice_id == invoice_id)
            .order_by(Payment.received_at, Payment.created_at, Payment.id)
        )
        return (await session.execute(stmt)).scalars().all()


client_invoice_repository = ClientInvoiceRepository()
