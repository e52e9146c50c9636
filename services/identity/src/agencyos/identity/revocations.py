"""What identity revokes, written to the revocation store (agencyos.common.revocation) so the
gateway and every service stop the affected access tokens at once, not when they expire.

Each write happens inside the transaction that makes the change, before it commits: if the
write fails the request fails and the change rolls back (never a committed revocation the
verifiers do not know of); if the commit fails after the write, tokens were refused that
could have lived on, which is safe. Tokens identity issues are issued from the membership row
as committed (tokens.issuer locks it FOR SHARE), so none carries the state a revocation
replaced while being stamped after its "not before".
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from agencyos.common.permissions import Role
from agencyos.common.revocation import RevocationStore
from agencyos.common.web import service_context
from agencyos.identity.settings import IdentitySettings


@dataclass(frozen=True)
class Revoker:
    store: RevocationStore
    # How long an entry must live: until every token it can refuse has expired.
    ttl_seconds: int

    async def sessions(self, session_ids: Iterable[uuid.UUID]) -> None:
        """Logout, a revoked session, a reused refresh token: the sessions' access tokens."""
        await self.store.revoke_sessions(session_ids, ttl_seconds=self.ttl_seconds)

    async def member(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> None:
        """Removal, suspension, a role change, fewer permissions, a new password: the user's
        tokens in this agency issued until now (those of their other agencies are not)."""
        await self.store.revoke_user(tenant_id, user_id, ttl_seconds=self.ttl_seconds)

    async def role(self, tenant_id: uuid.UUID, role: Role) -> None:
        """A role tuned to fewer permissions: the tokens of its members in this agency."""
        await self.store.revoke_role(tenant_id, role.value, ttl_seconds=self.ttl_seconds)

    async def api_key(self, api_key_id: uuid.UUID) -> None:
        await self.store.revoke_api_key(api_key_id, ttl_seconds=self.ttl_seconds)

    async def tenant(self, tenant_id: uuid.UUID) -> None:
        """What every token of the agency carries changed (its IP allowlist): all its tokens
        issued until now, users', API keys' and delegated ones."""
        await self.store.revoke_tenant(tenant_id, ttl_seconds=self.ttl_seconds)


def revoker(request: Request) -> Revoker:
    ctx = service_context(request)
    settings = ctx.settings
    assert isinstance(settings, IdentitySettings)
    return Revoker(ctx.revocations, settings.revocation_ttl_seconds)


IdentityRevoker = Annotated[Revoker, Depends(revoker)]
