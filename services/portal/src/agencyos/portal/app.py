from fastapi import FastAPI

from agencyos.common.web import ServiceContext, create_app


def build_app(ctx: ServiceContext) -> FastAPI:
    return create_app(
        ctx,
        title="AgencyOS portal",
        description="Portal: client-portal access, branding, feedback and deliverable approvals.",
        routers=[],
    )
