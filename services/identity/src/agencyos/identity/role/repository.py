"""SQL for an agency's tuned role permission sets."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import utcnow
from agencyos.identity.models import RolePermissions


class RoleRepository:
    async def lock_permissions(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        """Until the transaction ends, nobody else in the agency changes what a member may do
        (a role's tuning, a member's overrides or role) or reads it for an event: so each
        event about a member's permissions is computed from what the one before it left,
        and the last one published is the set identity holds."""
        key = func.hashtextextended(f"identity.permissions:{tenant_id}", 0)
        await session.execute(select(func.pg_advisory_xact_lock(key)))

    async def tuned(self, session: AsyncSession, tenant_id: uuid.UUID) -> Sequence[RolePermissions]:
        stmt = select(RolePermissions).where(RolePermissions.tenant_id == tenant_id)
        return list((await session.execute(stmt)).scalars())

    async def tuned_for(
        self, session: AsyncSession, tenant_id: uuid.UUID, role: str
    ) -> RolePermissions | None:
        return await session.get(RolePermissions, (tenant_id, role))

    async def save(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        role: str,
        permissions: Sequence[str],
        updated_by: uuid.UUID | None,
    ) -> None:
        values = {
            "permissions": list(permissions),
            "updated_by": updated_by,
            "updated_at": utcnow(),
        }
        stmt = (
            insert(RolePermissions)
            .values(tenant_id=tenant_id, role=role, **values)
            .on_conflict_do_update(index_elements=["tenant_id", "role"], set_=values)
        )
        await session.execute(stmt)
        session.expire_all()

    async def reset(self, session: AsyncSession, tenant_id: uuid.UUID, role: str) -> None:
        await session.execute(
            delete(RolePermissions).where(
                RolePermissions.tenant_id == tenant_id, RolePermissions.role == role
            )
        )


role_repository = RoleRepository()
