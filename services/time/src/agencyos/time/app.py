from fastapi import FastAPI

from agencyos.common.web import ServiceContext, create_app
from agencyos.time.entry.endpoints import router as entries_router
from agencyos.time.rate.endpoints import router as rates_router
from agencyos.time.report.endpoints import router as reports_router
from agencyos.time.team.endpoints import router as capacity_router
from agencyos.time.timer.endpoints import router as timers_router
from agencyos.time.timesheet.endpoints import router as timesheets_router


def build_app(ctx: ServiceContext) -> FastAPI:
    return create_app(
        ctx,
        title="AgencyOS time",
        description=(
            "Time: timers, time entries, timesheets and approvals, rates, capacity and utilization."
        ),
        routers=[
            timers_router,
            entries_router,
            timesheets_router,
            reports_router,
            rates_router,
            capacity_router,
        ],
    )
