from fastapi import FastAPI

from agencyos.common.web import ServiceContext, create_app
from agencyos.crm.client.endpoints import router as clients_router


def build_app(ctx: ServiceContext) -> FastAPI:
    return create_app(
        ctx,
        title="AgencyOS CRM",
        description="Clients, contacts, pipelines and deals.",
        routers=[clients_router],
    )
