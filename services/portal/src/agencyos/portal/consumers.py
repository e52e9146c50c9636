"""The one list of events the portal handles: the client's recent activity."""

from agencyos.common.consumer import Subscription
from agencyos.portal.activity.handlers import HANDLERS

SUBSCRIPTION = Subscription(handlers=HANDLERS)
