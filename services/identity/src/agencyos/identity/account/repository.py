"""SQL for accounts: users, agencies and memberships."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.identity.models import Agency, Membership, User


class AccountRepository:
    async def user_by_email(self, session: AsyncSession, email: str) -> User | None:
        stmt = select(User).where(User.email == email.lower())
        return (await session.execute(stmt)).scalar_one_or_none()

    async def user_by_id(self, session: AsyncSession, user_id: uuid.UUID) -> User | None:
        return await session.get(User, user_id)

    async def memberships_of(
        self, session: AsyncSession, user_id: uuid.UUID
    ) -> Sequence[tuple[Membership, Agency]]:
        """Every agency the user belongs to (visible through the user's own-rows policy)."""
        stmt = (
            select(Membership, Agency)
            .join(Agency, Agency.id == Membership.tenant_id)
            .where(Membership.user_id == user_id)
            .order_by(Membership.created_at, Agency.slug)
        )
        return [(m, a) for m, a in (await session.execute(stmt)).all()]

    async def membership(
        self, session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID
    ) -> tuple[Membership, User] | None:
        """The user's membership in `tenant_id`. The tenant filter is explicit because a
        user's own memberships in other agencies are visible to them too."""
        stmt = (
            select(Membership, User)
            .join(User, User.id == Membership.user_id)
            .where(Membership.tenant_id == tenant_id, Membership.user_id == user_id)
        )
        row = (await session.execute(stmt)).first()
        return (row[0], row[1]) if row else None

    async def agency(self, session: AsyncSession, agency_id: uuid.UUID) -> Agency | None:
        return await session.get(Agency, agency_id)


account_repository = AccountRepository()
