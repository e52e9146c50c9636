"""Keeps time's copy of work's projects current from work's events.

Each handler runs in the consumer runner's transaction under the event's tenant, with the
event id recorded in the inbox, so a redelivered event has no second effect; an event older
than the state kept (its `changed_at`) changes nothing, so the copy converges whatever order
the events arrive in. Events published before they carried the project's state are skipped
(the project is asked of work when first needed)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.consumer import Handler
from agencyos.common.events import (
    CloudEvent,
    ProjectCreated,
    ProjectStatusChanged,
    ProjectUpdated,
)
from agencyos.time.projects.repository import work_project_repository


def _keep(kind: type[ProjectCreated | ProjectUpdated | ProjectStatusChanged]) -> Handler:
    async def handle(session: AsyncSession, event: CloudEvent) -> None:
        payload = event.payload(kind)
        if payload.project is None:
            return
        await work_project_repository.apply(
            session, event.tenantid, payload.project_id, payload.project
        )

    return handle


HANDLERS: dict[str, Handler] = {
    kind.event_type: _keep(kind) for kind in (ProjectCreated, ProjectUpdated, ProjectStatusChanged)
}
