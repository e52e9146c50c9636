"""Typed auth dependencies for entries and timers."""

from typing import Annotated

from fastapi import Depends

from agencyos.common.auth import Principal
from agencyos.common.errors import PermissionDenied
from agencyos.common.web import CurrentPrincipal, require

# Logging time (always one's own): members and above.
TimeWrite = Annotated[Principal, require("time.write")]


async def _time_read(principal: CurrentPrincipal) -> Principal:
    """People who log time read their own entries; approvers read everyone's. Client users
    hold neither."""
    if not (principal.can("time.write") or principal.can("timesheets.approve")):
        raise PermissionDenied(
            "reading time entries needs the 'time.write' or 'timesheets.approve' permission"
        )
    return principal


TimeRead = Annotated[Principal, Depends(_time_read)]
