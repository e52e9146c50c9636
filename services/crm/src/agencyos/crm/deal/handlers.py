"""work's events that concern deals. Each runs in the consumer runner's transaction under the
event's tenant, with the event id recorded in the inbox (a redelivery has no second effect)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import CloudEvent, ProjectCreated
from agencyos.common.logs import get_logger
from agencyos.crm.deal.service import deal_service

log = get_logger(__name__)


async def on_project_created(session: AsyncSession, event: CloudEvent) -> None:
    """A project made from a won deal: the deal shows its `project_id`, and the client's
    timeline says so. Projects not made from a deal are none of the CRM's business."""
    payload = event.payload(ProjectCreated)
    if payload.deal_id is None:
        return
    linked = await deal_service.link_project(
        session,
        deal_id=payload.deal_id,
        project_id=payload.project_id,
        project_name=payload.name,
        event_id=event.id,
        occurred_at=event.time,
    )
    if not linked:
        log.info("project for an unknown deal", deal_id=str(payload.deal_id))
