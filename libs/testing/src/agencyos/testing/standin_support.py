"""What the gRPC stand-ins (agencyos.testing.standins) share: who is calling, and ids and
times in the contracts' forms."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from agencyos.common.rpc import rpc_principal


def caller_tenant() -> uuid.UUID:
    return rpc_principal().tenant_id


def rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat()


def peer_uuid(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        # The real peers answer an id that is not a UUID as "no such thing".
        return uuid.UUID(int=0)
