"""SQL for single sign-on: an agency's provider configuration, and the agency a sign-in
starts from (by slug, before any tenant is known)."""

from __future__ import annotations

import uuid

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import set_local
from agencyos.identity.models import Agency, SsoConfiguration

# Set in a transaction, it makes that one agency's row readable (policy agencies_sso_slug_read).
SLUG_SETTING = "agencyos.sso_agency_slug"


class SsoRepository:
    async def configuration(
        self, session: AsyncSession, tenant_id: uuid.UUID, *, for_update: bool = False
    ) -> SsoConfiguration | None:
        stmt = select(SsoConfiguration).where(SsoConfiguration.tenant_id == tenant_id)
        if for_update:
            stmt = stmt.with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()

    async def delete(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        await session.execute(
            delete(SsoConfiguration).where(SsoConfiguration.tenant_id == tenant_id)
        )

    async def agency_by_slug(self, session: AsyncSession, slug: str) -> Agency | None:
        await set_local(session, {SLUG_SETTING: slug})
        stmt = select(Agency).where(Agency.slug == slug)
        return (await session.execute(stmt)).scalar_one_or_none()


sso_repository = SsoRepository()
