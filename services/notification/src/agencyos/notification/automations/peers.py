"""The automation engine's hands in work and CRM: each action runs as the rule's author, with
no person present, through the peers' own gRPC methods and permissions.

identity issues a short-lived delegated token for the author (asked with the service
credential; refused once the author is no longer an active member); it is kept until shortly
before it expires, so a burst of actions for one author costs one token. A token the peer
refuses as revoked (the author was suspended, demoted, removed) is dropped and asked for once
more: a new role gets a new token, a suspended author a refusal (PreconditionFailed)."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from typing import TypeVar

from agencyos.common.auth import JwksVerifier, Principal
from agencyos.common.errors import Unauthenticated
from agencyos.common.peers.crm import CrmClient
from agencyos.common.peers.identity import IdentityClient
from agencyos.common.peers.work import WorkClient
from agencyos.common.settings import ServiceSettings

T = TypeVar("T")

# Why the tokens are asked for, recorded in each (identity's `purpose` claim).
PURPOSE = "automation"
# A token with less than this left is not used for a new action (an action may retry and
# take a while; the peers' verifiers allow a little clock skew only).
REFRESH_MARGIN_SECONDS = 60.0
# Kept tokens past this count have the expired ones swept out on the next issue.
SWEEP_ABOVE = 1000


@dataclass(frozen=True)
class _Kept:
    principal: Principal
    usable_until: float  # on the monotonic clock


class GrpcAutomationPeers:
    """`AutomationPeers` over gRPC: work's CreateTask and CRM's AddTimelineEntry, each as the
    acting user with a delegated token."""

    def __init__(
        self,
        identity: IdentityClient,
        work: WorkClient,
        crm: CrmClient,
        verifier: JwksVerifier,
        *,
        refresh_margin_seconds: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.identity = identity
        self.work = work
        self.crm = crm
        self.verifier = verifier
        self.refresh_margin_seconds = refresh_margin_seconds
        self.clock = clock
        self._tokens: dict[tuple[uuid.UUID, uuid.UUID], _Kept] = {}
        self._locks: dict[tuple[uuid.UUID, uuid.UUID], asyncio.Lock] = {}

    @classmethod
    def of(cls, settings: ServiceSettings, verifier: JwksVerifier) -> GrpcAutomationPeers:
        """Peers at the settings' gRPC targets, identity asked with the settings' service
        credential; tokens verified by `verifier` (the service's own)."""
        return cls(
            IdentityClient.of(settings), WorkClient.of(settings), CrmClient.of(settings), verifier
        )

    async def create_task(
        self,
        *,
        tenant_id: uuid.UUID,
        acting_user_id: uuid.UUID,
        project_id: uuid.UUID,
        title: str,
        description: str | None,
        assignee_id: uuid.UUID | None,
        due_date: date | None,
    ) -> uuid.UUID:
        async def create(principal: Principal) -> uuid.UUID:
            task = await self.work.create_task(
                principal,
                project_id=project_id,
                title=title,
                description=description,
                assignee_id=assignee_id,
                due_date=due_date,
            )
            return task.id

        return await self._as(tenant_id, acting_user_id, create)

    async def add_timeline_entry(
        self,
        *,
        tenant_id: uuid.UUID,
        acting_user_id: uuid.UUID,
        client_id: uuid.UUID,
        title: str,
        body: str | None,
    ) -> uuid.UUID:
        async def add(principal: Principal) -> uuid.UUID:
            return await self.crm.add_timeline_entry(
                principal, client_id=client_id, title=title, body=body
            )

        return await self._as(tenant_id, acting_user_id, add)

    async def _as(
        self,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        action: Callable[[Principal], Awaitable[T]],
    ) -> T:
        """`action` as the user; once more with a fresh token if the peer refused the kept one
        (revoked since it was issued)."""
        principal, fresh = await self._principal(tenant_id, user_id)
        try:
            return await action(principal)
        except Unauthenticated:
            self._forget(tenant_id, user_id, principal)
            if fresh:
                raise
        principal, _ = await self._principal(tenant_id, user_id)
        return await action(principal)

    async def _principal(self, tenant_id: uuid.UUID, user_id: uuid.UUID) -> tuple[Principal, bool]:
        """The user's kept token if it has time left, else a new one; and whether it is new."""
        key = (tenant_id, user_id)
        kept = self._tokens.get(key)
        if kept is not None and kept.usable_until > self.clock():
            return kept.principal, False
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            kept = self._tokens.get(key)
            if kept is not None and kept.usable_until > self.clock():
                return kept.principal, False
            asked_at = self.clock()
            delegated = await self.identity.issue_delegated_token(
                tenant_id=tenant_id, user_id=user_id, purpose=PURPOSE
            )
            principal = await self.verifier.verify(delegated.access_token)
            if principal.tenant_id != tenant_id or principal.user_id != user_id:
                raise Unauthenticated("identity answered a token for someone else")
            usable_until = asked_at + delegated.expires_in - self.refresh_margin_seconds
            if len(self._tokens) > SWEEP_ABOVE:
                now = self.clock()
                self._tokens = {k: v for k, v in self._tokens.items() if v.usable_until > now}
                self._locks = {k: v for k, v in self._locks.items() if k in self._tokens}
                self._locks[key] = lock
            self._tokens[key] = _Kept(principal, usable_until)
            return principal, True

    def _forget(self, tenant_id: uuid.UUID, user_id: uuid.UUID, principal: Principal) -> None:
        kept = self._tokens.get((tenant_id, user_id))
        if kept is not None and kept.principal.token == principal.token:
            del self._tokens[(tenant_id, user_id)]
