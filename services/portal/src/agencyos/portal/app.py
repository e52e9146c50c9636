from fastapi import FastAPI

from agencyos.common.peers.portal_sign_in import PortalSignInClient
from agencyos.common.web import ServiceContext, create_app
from agencyos.portal.comment.endpoints import router as comment_router
from agencyos.portal.dashboard.endpoints import router as dashboard_router
from agencyos.portal.deliverable.endpoints import router as deliverable_router
from agencyos.portal.file.endpoints import router as file_router
from agencyos.portal.invoice.endpoints import router as invoice_router
from agencyos.portal.project.endpoints import router as project_router
from agencyos.portal.settings import PortalSettings
from agencyos.portal.web.errors import install_page_errors
from agencyos.portal.web.invoice_pages import router as invoice_pages_router
from agencyos.portal.web.pages import router as pages_router
from agencyos.portal.web.session import SessionStore
from agencyos.portal.web.task_pages import router as task_pages_router


def build_app(ctx: ServiceContext) -> FastAPI:
    assert isinstance(ctx.settings, PortalSettings)
    app = create_app(
        ctx,
        title="AgencyOS portal",
        description=(
            "Portal: what a client user of an agency sees — its dashboard, its client's "
            "projects, the tasks, milestones and deliverables shown to it, its decisions on "
            "deliverables, feedback, comments and files, and its invoices (PDF, paying online). "
            "The same service serves the web pages under `/portal/<agency-slug>/` (HTML, not "
            "part of this API)."
        ),
        routers=[
            dashboard_router,
            project_router,
            deliverable_router,
            comment_router,
            file_router,
            invoice_router,
            pages_router,
            invoice_pages_router,
            task_pages_router,
        ],
    )
    # Page sessions share the revocation store's Redis pool (closed with the context).
    app.state.web_sessions = SessionStore(ctx.revocations.client, ctx.settings)
    app.state.portal_sign_in = PortalSignInClient.of(ctx.settings)
    install_page_errors(app)
    return app
