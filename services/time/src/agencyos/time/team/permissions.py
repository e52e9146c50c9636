"""Typed auth dependencies for the capacity routes."""

from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import CurrentPrincipal, require

# Anyone in the agency may call; what they see depends on `sees_whole_team`.
CapacityRead = CurrentPrincipal
# Managers and above: capacity is set with the rates (what the agency plans to sell).
CapacityWrite = Annotated[Principal, require("rates.write")]

# Whoever approves timesheets manages people's time: they see the whole team's capacity and
# utilization; everyone else sees their own.
TEAM_READ_PERMISSION = "timesheets.approve"


def sees_whole_team(principal: Principal) -> bool:
    return principal.can(TEAM_READ_PERMISSION)
