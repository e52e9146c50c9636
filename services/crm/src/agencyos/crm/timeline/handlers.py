"""Timeline entries (and the client's revenue) from billing's events. Each handler runs in the
consumer runner's transaction under the event's tenant, with the event id in the inbox.

An event about a client CRM does not have (deleted since the invoice was made) is logged and
skipped: retrying cannot make the client appear, and a dead letter would only be noise."""

from __future__ import annotations

import uuid

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import CloudEvent, InvoicePaid, InvoiceSent
from agencyos.common.logs import get_logger
from agencyos.crm.models import Client
from agencyos.crm.timeline.repository import timeline_repository
from agencyos.crm.timeline.titles import money

log = get_logger(__name__)


async def _known_client(session: AsyncSession, event: CloudEvent, client_id: uuid.UUID) -> bool:
    found = await session.scalar(select(Client.id).where(Client.id == client_id))
    if found is None:
        log.warning(
            "billing event for a client not in CRM; skipped",
            event_id=str(event.id),
            event_type=event.type,
            client_id=str(client_id),
        )
    return found is not None


async def on_invoice_sent(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(InvoiceSent)
    if not await _known_client(session, event, payload.client_id):
        return
    await timeline_repository.add(
        session,
        tenant_id=event.tenantid,
        client_id=payload.client_id,
        kind="invoice_sent",
        title=f"Invoice {payload.number} sent ({money(payload.total_cents, payload.currency)})",
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
    if not await _known_client(session, event, payload.client_id):
        return
    written = await timeline_repository.add(
        session,
        tenant_id=event.tenantid,
        client_id=payload.client_id,
        kind="invoice_paid",
        title=f"Invoice {payload.number} paid ({money(payload.amount_cents, payload.currency)})",
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
