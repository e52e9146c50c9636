"""Timeline entries (and the client's revenue) from billing's events. Each handler runs in the
consumer runner's transaction under the event's tenant, with the event id in the inbox."""

from __future__ import annotations

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import CloudEvent, InvoicePaid, InvoiceSent
from agencyos.crm.models import Client
from agencyos.crm.timeline.repository import timeline_repository


def _money(cents: int, currency: str) -> str:
    return f"{currency} {cents // 100:,}.{cents % 100:02d}"


async def on_invoice_sent(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(InvoiceSent)
    await timeline_repository.add(
        session,
        tenant_id=event.tenantid,
        client_id=payload.client_id,
        kind="invoice_sent",
        title=f"Invoice {payload.number} sent ({_money(payload.total_cents, payload.currency)})",
        occurred_at=event.time,
        data={
            "invoice_id": str(payload.invoice_id),
            "number": payload.number,
            "total_cents": payload.total_cents,
            "currency": payload.currency,
            "due_date": payload.due_date.isoformat(),
        },
        source_event_id=event.id,
    )


async def on_invoice_paid(session: AsyncSession, event: CloudEvent) -> None:
    """Adds the payment to the client's `total_revenue_cents` exactly once per event (the
    timeline entry's unique event id is the guard, next to the inbox)."""
    payload = event.payload(InvoicePaid)
    written = await timeline_repository.add(
        session,
        tenant_id=event.tenantid,
        client_id=payload.client_id,
        kind="invoice_paid",
        title=f"Invoice {payload.number} paid ({_money(payload.amount_cents, payload.currency)})",
        occurred_at=payload.paid_at,
        data={
            "invoice_id": str(payload.invoice_id),
            "number": payload.number,
            "amount_cents": payload.amount_cents,
            "currency": payload.currency,
        },
        source_event_id=event.id,
    )
    if written is not None:
        await session.execute(
            update(Client)
            .where(Client.tenant_id == event.tenantid, Client.id == payload.client_id)
            .values(total_revenue_cents=Client.total_revenue_cents + payload.amount_cents)
            .execution_options(synchronize_session=False)
        )
