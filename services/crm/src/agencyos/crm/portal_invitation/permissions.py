from typing import Annotated

from fastapi import Depends

from agencyos.common.auth import Principal
from agencyos.common.web import CurrentPrincipal


async def _may_invite_clients(principal: CurrentPrincipal) -> Principal:
    """Sees the client (`clients.read`) and may invite people (`members.invite`)."""
    principal.require("clients.read")
    principal.require("members.invite")
    return principal


PortalInvitationsWrite = Annotated[Principal, Depends(_may_invite_clients)]
