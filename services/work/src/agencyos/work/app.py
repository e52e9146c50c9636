from fastapi import FastAPI

from agencyos.common.web import ServiceContext, create_app


def build_app(ctx: ServiceContext) -> FastAPI:
    return create_app(
        ctx,
        title="AgencyOS work",
        description="Work: projects, templates, boards, tasks, milestones and deliverables.",
        routers=[],
    )
