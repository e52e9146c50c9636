"""The one list of events the time service handles."""

from agencyos.common.consumer import Subscription
from agencyos.time.invoicing.handlers import HANDLERS as INVOICING_HANDLERS
from agencyos.time.projects.handlers import HANDLERS as PROJECT_HANDLERS
from agencyos.time.team.handlers import HANDLERS as TEAM_HANDLERS

HANDLERS = {**TEAM_HANDLERS, **INVOICING_HANDLERS, **PROJECT_HANDLERS}
SUBSCRIPTION = Subscription(handlers=HANDLERS) if HANDLERS else None
