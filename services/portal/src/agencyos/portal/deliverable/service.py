"""The client's decisions on submitted deliverables, recorded by work (which publishes
work.deliverable.approved / work.deliverable.changes_requested; notification tells the
project's managers)."""

from __future__ import annotations

import uuid

from agencyos.common.peers.work import Deliverable, WorkClient
from agencyos.portal.permissions import ClientCaller


class PortalDeliverableService:
    async def approve(
        self,
        caller: ClientCaller,
        work: WorkClient,
        deliverable_id: uuid.UUID,
        comment: str | None,
    ) -> Deliverable:
        return await work.approve_deliverable(caller.principal, deliverable_id, comment)

    async def request_changes(
        self, caller: ClientCaller, work: WorkClient, deliverable_id: uuid.UUID, comment: str
    ) -> Deliverable:
        return await work.request_deliverable_changes(caller.principal, deliverable_id, comment)


portal_deliverable_service = PortalDeliverableService()
