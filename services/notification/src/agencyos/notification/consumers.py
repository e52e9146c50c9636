"""The one list of events the notification service handles."""

from agencyos.common.consumer import Subscription
from agencyos.notification.email.handlers import EMAIL_HANDLERS
from agencyos.notification.notices.composition import compose_handlers
from agencyos.notification.notices.handlers import NOTICE_HANDLERS

# Several handlers of one event type run in this order, in one transaction: the brand and
# transactional emails, then the directory and the notices.
HANDLERS = compose_handlers(EMAIL_HANDLERS, NOTICE_HANDLERS)
SUBSCRIPTION = Subscription(handlers=HANDLERS)
