"""SQL for an agency's members (memberships joined with their users)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.permissions import Role
from agencyos.identity.models import Membership, User


class MemberRepository:
    async def page(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        *,
        q: str | None,
        role: str | None,
        status: str | None,
        page: int,
        per_page: int,
    ) -> tuple[Sequence[tuple[Membership, User]], int]:
        stmt = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.tenant_id == tenant_id)
        )
        if q:
            pattern = "%" + q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            stmt = stmt.where(or_(User.name.ilike(pattern), User.email.ilike(pattern)))
        if role:
            stmt = stmt.where(Membership.role == role)
        if status:
            stmt = stmt.where(Membership.status == status)
        total = (
            await session.execute(select(func.count()).select_from(stmt.subquery()))
        ).scalar_one()
        rows = await session.execute(
            stmt.order_by(Membership.created_at, User.email)
            .offset((page - 1) * per_page)
            .limit(per_page)
        )
        return [(m, u) for m, u in rows.all()], int(total)

    async def many(
        self, session: AsyncSession, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
    ) -> Sequence[tuple[Membership, User]]:
        stmt = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.tenant_id == tenant_id, Membership.user_id.in_(user_ids))
        )
        return [(m, u) for m, u in (await session.execute(stmt)).all()]

    async def with_role(
        self, session: AsyncSession, tenant_id: uuid.UUID, role: str
    ) -> Sequence[Membership]:
        """Every membership with `role`, whatever its status, oldest first."""
        stmt = (
            select(Membership)
            .where(Membership.tenant_id == tenant_id, Membership.role == role)
            .order_by(Membership.created_at, Membership.user_id)
        )
        return list((await session.execute(stmt)).scalars())

    async def get_for_update(
        self, session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
    ) -> tuple[Membership, User] | None:
        stmt = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.tenant_id == tenant_id, Membership.user_id == user_id)
            .with_for_update(of=Membership)
        )
        row = (await session.execute(stmt)).first()
        return (row[0], row[1]) if row else None

    async def lock_active_owners(
        self, session: AsyncSession, tenant_id: uuid.UUID
    ) -> list[uuid.UUID]:
        """The agency's active owners, their rows locked: every change that may leave the
        agency without an owner takes these locks first, so two such changes (two owners
        demoting each other, say) run one after the other and the second sees the first."""
        stmt = (
            select(Membership.user_id)
            .where(
                Membership.tenant_id == tenant_id,
                Membership.role == Role.OWNER.value,
                Membership.status == "active",
            )
            .order_by(Membership.user_id)
            .with_for_update()
        )
        return list((await session.execute(stmt)).scalars())

    async def delete(self, session: AsyncSession, membership: Membership) -> None:
        await session.execute(
            delete(Membership).where(
                Membership.tenant_id == membership.tenant_id, Membership.id == membership.id
            )
        )


member_repository = MemberRepository()
