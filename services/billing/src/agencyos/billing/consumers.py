"""The one list of events the billing service handles."""

from agencyos.billing.invoice.handlers import HANDLERS
from agencyos.common.consumer import Subscription

SUBSCRIPTION = Subscription(handlers=HANDLERS) if HANDLERS else None
