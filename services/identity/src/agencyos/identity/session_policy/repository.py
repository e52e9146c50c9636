"""SQL for agencies' session policies (one row per agency at most; tenant-scoped)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.identity.models import Agency, SessionPolicy


class SessionPolicyRepository:
    async def hold_agency(
        self, session: AsyncSession, tenant_id: uuid.UUID, *, exclusive: bool
    ) -> None:
        """Lock the agency's row: `exclusive` (a policy change, until it commits) against
        shared (each token issued, while it reads the policy). A token is then issued either
        before the change's revocation not-before or from the policy it committed, never
        after the not-before from the policy it replaced. The shared lock is FOR KEY SHARE,
        so it does not wait on ordinary changes to the agency's settings."""
        stmt = select(Agency.id).where(Agency.id == tenant_id)
        stmt = (
            stmt.with_for_update() if exclusive else stmt.with_for_update(read=True, key_share=True)
        )
        await session.execute(stmt)

    async def get(self, session: AsyncSession, tenant_id: uuid.UUID) -> SessionPolicy | None:
        stmt = select(SessionPolicy).where(SessionPolicy.tenant_id == tenant_id)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def for_update(self, session: AsyncSession, tenant_id: uuid.UUID) -> SessionPolicy:
        """The agency's row, made if missing, row-locked: two changes at once apply in turn."""
        stmt = select(SessionPolicy).where(SessionPolicy.tenant_id == tenant_id).with_for_update()
        policy = (await session.execute(stmt)).scalar_one_or_none()
        if policy is None:
            policy = SessionPolicy(tenant_id=tenant_id, ip_allowlist=[])
            session.add(policy)
            await session.flush()
        return policy


session_policy_repository = SessionPolicyRepository()
