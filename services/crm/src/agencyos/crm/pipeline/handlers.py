"""identity's events that concern pipelines. Runs in the consumer runner's transaction under
the event's tenant, with the event id recorded in the inbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import AgencyCreated, CloudEvent
from agencyos.crm.pipeline.service import pipeline_service


async def on_agency_created(session: AsyncSession, event: CloudEvent) -> None:
    """A new agency gets its default pipeline; one that has a default already gets nothing."""
    event.payload(AgencyCreated)  # checks the type and schema version
    await pipeline_service.ensure_default(session, event.tenantid)
