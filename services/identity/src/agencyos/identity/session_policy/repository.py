"""SQL for agencies' session policies (one row per agency at most; tenant-scoped)."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.identity.models import SessionPolicy


class SessionPolicyRepository:
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
