from fastapi import FastAPI

from agencyos.common.web import ServiceContext, create_app
from agencyos.crm.client.endpoints import router as clients_router
from agencyos.crm.contact.endpoints import router as contacts_router
from agencyos.crm.csv_import.endpoints import router as import_export_router
from agencyos.crm.deal.endpoints import router as deals_router
from agencyos.crm.job.endpoints import router as jobs_router
from agencyos.crm.pipeline.endpoints import router as pipelines_router
from agencyos.crm.portal_invitation.endpoints import router as portal_invitations_router
from agencyos.crm.timeline.endpoints import router as timeline_router


def build_app(ctx: ServiceContext) -> FastAPI:
    return create_app(
        ctx,
        title="AgencyOS CRM",
        description="Clients, contacts, pipelines and deals.",
        routers=[
            import_export_router,
            jobs_router,
            clients_router,
            contacts_router,
            portal_invitations_router,
            timeline_router,
            pipelines_router,
            deals_router,
        ],
    )
