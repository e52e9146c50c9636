"""What identity asks CRM: does a client exist (a client-role membership is bound to one)."""

from __future__ import annotations

import uuid

from agencyos.common.auth import Principal
from agencyos.common.errors import InvalidInput
from agencyos.common.peers.crm import CrmClient


async def ensure_client_exists(principal: Principal, crm: CrmClient, client_id: uuid.UUID) -> None:
    """Raise InvalidInput naming `client_id` unless it is a client of the caller's agency.

    Asked with the caller's own token, so CRM's tenancy decides: another agency's client is
    as unknown as a made-up id."""
    if await crm.client(principal, client_id) is None:
        raise InvalidInput(
            "client_id is not a client of this agency",
            errors=[{"field": "client_id", "message": "no such client", "type": "not_found"}],
        )
