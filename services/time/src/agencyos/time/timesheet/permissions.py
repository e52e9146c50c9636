"""Typed auth dependencies and permission names for the timesheet routes."""

from typing import Annotated

from agencyos.common.auth import Principal
from agencyos.common.web import require

LOG_TIME = "time.write"
APPROVE = "timesheets.approve"

# Approving and rejecting (managers and above).
TimesheetsApprove = Annotated[Principal, require(APPROVE)]


def may_approve(principal: Principal) -> bool:
    """Approvers see and decide on everyone's timesheets."""
    return principal.can(APPROVE)
