from sqlalchemy.orm import DeclarativeBase

from agencyos.common.db import new_metadata


class Base(DeclarativeBase):
    metadata = new_metadata()


from agencyos.notification.models.agency_brand import AgencyBrand  # noqa: E402
from agencyos.notification.models.automation import (  # noqa: E402
    AutomationRule,
    AutomationRun,
    AutomationRunStatus,
)
from agencyos.notification.models.digest_run import DigestRun  # noqa: E402
from agencyos.notification.models.email_delivery import (  # noqa: E402
    DeliveryStatus,
    EmailDelivery,
)
from agencyos.notification.models.feed import FeedEvent, FeedHead  # noqa: E402
from agencyos.notification.models.notification import Notification  # noqa: E402
from agencyos.notification.models.person import DirectoryPerson  # noqa: E402
from agencyos.notification.models.preference import (  # noqa: E402
    NotificationPreference,
    NotificationRoleDefault,
)
from agencyos.notification.models.project import DirectoryProject  # noqa: E402
from agencyos.notification.models.task import DirectoryTask  # noqa: E402
from agencyos.notification.models.waiting_notice import WaitingNotice  # noqa: E402
from agencyos.notification.models.webhook import (  # noqa: E402
    EndpointDisabledReason,
    WebhookAttempt,
    WebhookDelivery,
    WebhookDeliveryStatus,
    WebhookEndpoint,
)

__all__ = [
    "AgencyBrand",
    "AutomationRule",
    "AutomationRun",
    "AutomationRunStatus",
    "Base",
    "DeliveryStatus",
    "DigestRun",
    "DirectoryPerson",
    "DirectoryProject",
    "DirectoryTask",
    "EmailDelivery",
    "EndpointDisabledReason",
    "FeedEvent",
    "FeedHead",
    "Notification",
    "NotificationPreference",
    "NotificationRoleDefault",
    "WaitingNotice",
    "WebhookAttempt",
    "WebhookDelivery",
    "WebhookDeliveryStatus",
    "WebhookEndpoint",
]
