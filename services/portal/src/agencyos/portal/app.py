from fastapi import FastAPI

from agencyos.common.web import ServiceContext, create_app
from agencyos.portal.comment.endpoints import router as comment_router
from agencyos.portal.dashboard.endpoints import router as dashboard_router
from agencyos.portal.deliverable.endpoints import router as deliverable_router
from agencyos.portal.file.endpoints import router as file_router
from agencyos.portal.invoice.endpoints import router as invoice_router
from agencyos.portal.project.endpoints import router as project_router


def build_app(ctx: ServiceContext) -> FastAPI:
    return create_app(
        ctx,
        title="AgencyOS portal",
        description=(
            "Portal: what a client user of an agency sees — its dashboard, its client's "
            "projects, the tasks, milestones and deliverables shown to it, its decisions on "
            "deliverables, feedback, comments and files, and its invoices (PDF, paying online)."
        ),
        routers=[
            dashboard_router,
            project_router,
            deliverable_router,
            comment_router,
            file_router,
            invoice_router,
        ],
    )
