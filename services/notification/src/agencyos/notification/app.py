from fastapi import FastAPI

from agencyos.common.web import ServiceContext, create_app
from agencyos.notification.email.endpoints import router as email_deliveries_router
from agencyos.notification.feed.endpoints import router as events_router
from agencyos.notification.inapp.endpoints import router as notifications_router
from agencyos.notification.preferences.endpoints import router as preferences_router


def build_app(ctx: ServiceContext) -> FastAPI:
    return create_app(
        ctx,
        title="AgencyOS notification",
        description=(
            "In-app notifications, preferences, email and outbound webhooks; the agency's "
            "event feed."
        ),
        routers=[notifications_router, preferences_router, email_deliveries_router, events_router],
    )
