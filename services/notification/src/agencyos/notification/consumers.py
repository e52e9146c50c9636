"""The one list of events the notification service handles."""

from agencyos.common.consumer import Subscription
from agencyos.common.events import ClientCreated
from agencyos.notification.email.handlers import EMAIL_HANDLERS
from agencyos.notification.inapp.handlers import on_client_created

SUBSCRIPTION = Subscription(
    handlers={ClientCreated.event_type: on_client_created, **EMAIL_HANDLERS}
)
