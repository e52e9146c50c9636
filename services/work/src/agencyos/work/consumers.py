"""The one list of events the work service handles."""

from agencyos.common.consumer import Subscription
from agencyos.common.events import DealWon
from agencyos.work.project.handlers import on_deal_won

SUBSCRIPTION = Subscription(handlers={DealWon.event_type: on_deal_won})
