"""work's events that start projects. Each runs in the consumer runner's transaction under the
event's tenant, with the event id recorded in the inbox (a redelivery has no second effect)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import CloudEvent, DealWon
from agencyos.work.project.service import project_service


async def on_deal_won(session: AsyncSession, event: CloudEvent) -> None:
    """The deal-won saga's work step: the deal's project, from the deal's template (or the
    agency's default), exactly once per deal; `work.project.created` (with `deal_id`) tells
    CRM to link the deal."""
    await project_service.create_from_deal(session, event.tenantid, event.payload(DealWon))
