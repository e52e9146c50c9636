from fastapi import FastAPI

from agencyos.common.web import ServiceContext, create_app


def build_app(ctx: ServiceContext) -> FastAPI:
    return create_app(
        ctx,
        title="AgencyOS billing",
        description="Billing: invoices, payments through Stripe, expenses and subscription plans.",
        routers=[],
    )
