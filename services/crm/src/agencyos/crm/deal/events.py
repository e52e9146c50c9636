"""Deal events that are not stage moves: who a deal is assigned to (for their notification),
and a deal's deletion (for a pipeline board to drop its card)."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import DealAssigned, DealDeleted
from agencyos.common.outbox import publish
from agencyos.crm.models import Deal

SERVICE = "crm"


async def publish_assigned(session: AsyncSession, deal: Deal, assigned_by: uuid.UUID) -> None:
    """`crm.deal.assigned` for the deal's current assignee (the caller checked there is one
    and that it is new: at creation, or a change to another member)."""
    assert deal.assigned_to is not None
    await publish(
        session,
        DealAssigned(
            deal_id=deal.id,
            client_id=deal.client_id,
            title=deal.title,
            value_cents=deal.value_cents,
            currency=deal.currency,
            assigned_to=deal.assigned_to,
            assigned_by=assigned_by,
        ),
        source_service=SERVICE,
        subject=f"deals/{deal.id}",
    )


async def publish_deleted(session: AsyncSession, deal: Deal, deleted_by: uuid.UUID) -> None:
    """`crm.deal.deleted` with the pipeline and stage the card leaves (the caller deletes the
    row in the same transaction)."""
    await publish(
        session,
        DealDeleted(
            deal_id=deal.id,
            client_id=deal.client_id,
            title=deal.title,
            pipeline_id=deal.pipeline_id,
            stage_id=deal.stage_id,
            deleted_by=deleted_by,
        ),
        source_service=SERVICE,
        subject=f"deals/{deal.id}",
    )
