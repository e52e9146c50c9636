"""Who may use the portal's API: client users only, each bound to its client (the token's
`cid`). Everything a route answers is scoped by that client: work answers NOT_FOUND for another
client's (or another agency's) projects, tasks and deliverables, billing for its invoices."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from agencyos.common.auth import Principal
from agencyos.common.errors import PermissionDenied
from agencyos.common.peers.billing import BillingClient
from agencyos.common.peers.work import WorkClient
from agencyos.common.permissions import Role
from agencyos.common.web import CurrentPrincipal, service_context


@dataclass(frozen=True)
class ClientCaller:
    """A client user and the client its token binds it to."""

    principal: Principal
    client_id: uuid.UUID


async def client_caller(principal: CurrentPrincipal) -> ClientCaller:
    if principal.role != Role.CLIENT:
        raise PermissionDenied(
            f"the portal API is for client users only (your role is {principal.role!s}); "
            "the agency's team uses the work API"
        )
    if principal.client_id is None:
        raise PermissionDenied("this client user is bound to no client")
    return ClientCaller(principal, principal.client_id)


PortalClient = Annotated[ClientCaller, Depends(client_caller)]


def work_client(request: Request) -> WorkClient:
    """work's typed client, called with the caller's own token."""
    return WorkClient.of(service_context(request).settings)


Work = Annotated[WorkClient, Depends(work_client)]


def billing_client(request: Request) -> BillingClient:
    """billing's typed client, called with the caller's own token (billing scopes every answer
    to the token's client)."""
    return BillingClient.of(service_context(request).settings)


Billing = Annotated[BillingClient, Depends(billing_client)]

# The responses every portal route may answer besides its own.
# OpenAPI responses, as FastAPI takes them.
Responses = dict[int | str, dict[str, Any]]

CLIENT_ONLY: Responses = {
    403: {"description": "The caller is not a client user (the portal is for clients only)"},
}
