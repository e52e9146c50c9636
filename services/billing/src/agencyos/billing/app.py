from fastapi import FastAPI

from agencyos.billing.billing_settings.endpoints import router as settings_router
from agencyos.billing.invoice.endpoints import router as invoices_router
from agencyos.billing.payment.endpoints import router as payments_router
from agencyos.common.web import ServiceContext, create_app


def build_app(ctx: ServiceContext) -> FastAPI:
    return create_app(
        ctx,
        title="AgencyOS billing",
        description=(
            "Billing: invoices from tracked time and milestones, numbering, tax and currency, "
            "payments (manual and through Stripe), overdue invoices and reminders."
        ),
        routers=[invoices_router, payments_router, settings_router],
    )
