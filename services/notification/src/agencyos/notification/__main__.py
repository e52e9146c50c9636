from pathlib import Path

from agencyos.common.runtime import ServiceDefinition, main
from agencyos.notification.app import build_app, build_stream_app
from agencyos.notification.automations.worker import automation_worker
from agencyos.notification.consumers import SUBSCRIPTION
from agencyos.notification.digests.worker import digest_worker
from agencyos.notification.email.worker import email_worker
from agencyos.notification.feed.recorder import feed_recorder
from agencyos.notification.feed.retention import feed_retention
from agencyos.notification.settings import NotificationSettings
from agencyos.notification.webhooks.worker import webhook_worker

DEFINITION = ServiceDefinition(
    name="notification",
    settings_factory=NotificationSettings,
    create_app=build_app,
    service_dir=Path(__file__).resolve().parents[3],
    subscription=SUBSCRIPTION,
    workers={
        "email": email_worker,
        "digests": digest_worker,
        "feed": feed_recorder,
        "feed-retention": feed_retention,
        "webhooks": webhook_worker,
        "automations": automation_worker,
    },
    servers={"stream": build_stream_app},
)

if __name__ == "__main__":
    main(DEFINITION)
