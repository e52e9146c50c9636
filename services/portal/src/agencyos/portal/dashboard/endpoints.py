from fastapi import APIRouter

from agencyos.common.web import TenantSession
from agencyos.portal.activity.schemas import ActivityEntry
from agencyos.portal.dashboard.schemas import (
    AmountDue,
    AwaitingDeliverable,
    Dashboard,
    OpenInvoice,
    OpenInvoices,
)
from agencyos.portal.dashboard.service import ACTIVITY_SHOWN, dashboard_service
from agencyos.portal.permissions import CLIENT_ONLY, Billing, PortalClient, Work
from agencyos.portal.project.schemas import PortalProject

router = APIRouter(prefix="/v1/portal", tags=["portal"])


@router.get(
    "/dashboard",
    response_model=Dashboard,
    summary="The client's dashboard",
    description=(
        "The caller's client's active projects (not completed or archived) with progress and "
        "next milestone; the deliverables awaiting its decision across its projects; its open "
        "invoices with the total still due per currency; and its recent activity (the newest "
        f"{ACTIVITY_SHOWN}: client-visible tasks created or changing status, client-visible "
        "comments, deliverables submitted and decided, invoices sent and paid; never anything "
        "internal). Activity is read from the portal's own record of events, so it may lag "
        "them by a moment. Client users only."
    ),
    responses={**CLIENT_ONLY},
)
async def get_dashboard(
    caller: PortalClient, work: Work, billing: Billing, session: TenantSession
) -> Dashboard:
    view = await dashboard_service.dashboard(session, caller, work, billing)
    names = {p.id: p.name for p in view.projects}
    return Dashboard(
        projects=[PortalProject.of(p) for p in view.active_projects],
        awaiting_decision=[AwaitingDeliverable.awaiting(d, names) for d in view.awaiting],
        invoices=OpenInvoices(
            items=[OpenInvoice.of(i) for i in view.invoices.invoices],
            total_due=[
                AmountDue(
                    currency=d.currency,
                    amount_due_cents=d.amount_due_cents,
                    invoice_count=d.invoice_count,
                )
                for d in view.invoices.open_due
            ],
        ),
        activity=[ActivityEntry.of(a) for a in view.activity],
    )
