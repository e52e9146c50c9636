from fastapi import FastAPI

from agencyos.common.web import Lifespan, ServiceContext, create_app
from agencyos.notification.automations.endpoints import router as automations_router
from agencyos.notification.email.endpoints import router as email_deliveries_router
from agencyos.notification.feed.endpoints import router as events_router
from agencyos.notification.feed.recorder import FEED_TOPIC
from agencyos.notification.feed.stream.endpoints import router as stream_router
from agencyos.notification.feed.stream.hub import stream_lifespan
from agencyos.notification.inapp.endpoints import router as notifications_router
from agencyos.notification.preferences.endpoints import router as preferences_router
from agencyos.notification.settings import NotificationSettings
from agencyos.notification.webhooks.endpoints import router as webhook_endpoints_router


def _stream_hub(ctx: ServiceContext) -> Lifespan:
    settings = ctx.settings
    assert isinstance(settings, NotificationSettings)
    return stream_lifespan(
        settings.kafka_bootstrap,
        settings.kafka_topic_prefix + FEED_TOPIC,
        replay_entries=settings.stream_replay_entries_per_agency,
        replay_max_age=settings.stream_replay_max_age_seconds,
        catch_up_concurrency=settings.stream_catch_up_concurrency,
    )


def build_app(ctx: ServiceContext) -> FastAPI:
    return create_app(
        ctx,
        title="AgencyOS notification",
        description=(
            "In-app notifications, preferences, email and outbound webhooks; the agency's "
            "event feed, and the same live."
        ),
        routers=[
            notifications_router,
            preferences_router,
            email_deliveries_router,
            events_router,
            stream_router,
            webhook_endpoints_router,
            automations_router,
        ],
        lifespans=[_stream_hub(ctx)],
    )


def build_stream_app(ctx: ServiceContext) -> FastAPI:
    """`python -m agencyos.notification stream`: the live stream alone (with health, readiness
    and metrics), for pods of its own that hold long-lived connections."""
    return create_app(
        ctx,
        title="AgencyOS notification stream",
        description="The agency's event feed, live (`GET /v1/stream`).",
        routers=[stream_router],
        lifespans=[_stream_hub(ctx)],
    )
