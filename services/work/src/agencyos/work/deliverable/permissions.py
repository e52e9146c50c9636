"""Who may read one deliverable: staff who read projects (members only theirs), and a client's
own users, who see what the client sees (never drafts, only their own client's projects): the
link in the "awaiting your approval" email leads there."""

from typing import Annotated

from fastapi import Depends

from agencyos.common.auth import Principal
from agencyos.common.errors import PermissionDenied
from agencyos.common.permissions import Role
from agencyos.common.web import CurrentPrincipal


async def deliverable_reader(principal: CurrentPrincipal) -> Principal:
    if principal.can("projects.read"):
        return principal
    if principal.role is Role.CLIENT and principal.can("portal.read"):
        return principal
    raise PermissionDenied("this action needs the 'projects.read' permission")


DeliverableRead = Annotated[Principal, Depends(deliverable_reader)]
