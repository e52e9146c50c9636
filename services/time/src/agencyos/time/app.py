from fastapi import FastAPI

from agencyos.common.web import ServiceContext, create_app


def build_app(ctx: ServiceContext) -> FastAPI:
    return create_app(
        ctx,
        title="AgencyOS time",
        description="Time: timers, time entries, timesheets and approvals, rates and capacity.",
        routers=[],
    )
