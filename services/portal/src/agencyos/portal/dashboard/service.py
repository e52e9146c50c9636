"""The dashboard in three gRPC calls, side by side (work: the client's projects with their
next milestone; work: the deliverables awaiting the client across its projects; billing: its
open invoices and the total due), and the recent activity from the portal's own read model."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.peers.billing import BillingClient, ClientInvoices, InvoiceFilter
from agencyos.common.peers.work import Deliverable, Project, WorkClient
from agencyos.portal.activity.repository import activity_repository
from agencyos.portal.models import Activity
from agencyos.portal.permissions import ClientCaller

# Projects in these statuses are over: the dashboard leaves them out.
FINISHED = frozenset({"completed", "archived"})
# How many activity entries the dashboard shows.
ACTIVITY_SHOWN = 20


@dataclass(frozen=True)
class DashboardView:
    projects: list[Project]  # every project of the client (names for the deliverables)
    awaiting: list[Deliverable]
    invoices: ClientInvoices
    activity: list[Activity]

    @property
    def active_projects(self) -> list[Project]:
        return [p for p in self.projects if p.status not in FINISHED]


class DashboardService:
    async def dashboard(
        self,
        session: AsyncSession,
        caller: ClientCaller,
        work: WorkClient,
        billing: BillingClient,
    ) -> DashboardView:
        projects, awaiting, invoices = await asyncio.gather(
            work.client_projects(caller.principal, caller.client_id),
            work.deliverables_awaiting_client(caller.principal),
            billing.client_invoices(caller.principal, InvoiceFilter.OPEN),
        )
        activity = await activity_repository.recent(session, caller.client_id, limit=ACTIVITY_SHOWN)
        return DashboardView(projects, awaiting, invoices, activity)


dashboard_service = DashboardService()
