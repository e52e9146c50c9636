"""Revoked tokens at the edge: after a token's signature checks out, the gateway asks the
revocation store (agencyos.common.revocation, one Redis round trip) whether identity has
revoked it since: its session, the user in that agency, the user's role there, or the API key
it was minted for.

The gateway fails OPEN when Redis cannot be reached (counted in
`agencyos_revocation_store_errors_total{service="gateway"}`; revocations seen in the last
token lifetime are still refused from memory): every service re-checks the token it is sent
and refuses writes it cannot check, so an outage of the store is not an outage of reads.
"""

from __future__ import annotations

from agencyos.common.auth import Principal
from agencyos.common.errors import Unauthenticated
from agencyos.common.revocation import RevocationStore
from agencyos.common.web import revocation_store
from agencyos.gateway.apikeys import ApiKeyResolver
from agencyos.gateway.settings import GatewaySettings


class RevocationGate:
    def __init__(self, store: RevocationStore, api_keys: ApiKeyResolver) -> None:
        self.store = store
        self.api_keys = api_keys

    @classmethod
    def from_settings(cls, settings: GatewaySettings, api_keys: ApiKeyResolver) -> RevocationGate:
        return cls(revocation_store("gateway", settings), api_keys)

    async def close(self) -> None:
        await self.store.close()

    async def admit(self, principal: Principal, *, api_key: str | None) -> None:
        """Raise Unauthenticated if the token has been revoked. For an API key (`api_key`,
        the key as the client sent it), the cached token minted for it is dropped too, so
        the next request asks identity, which refuses the revoked key."""
        try:
            await self.store.check(principal, fail_open=True)
        except Unauthenticated:
            if api_key is not None:
                self.api_keys.forget(api_key)
            raise
