"""SQL for the one billing-settings row per agency."""

from __future__ import annotations

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.models import BillingSettings


class BillingSettingsRepository:
    async def find(self, session: AsyncSession) -> BillingSettings | None:
        """The transaction's agency's row, if it ever saved settings."""
        return (await session.execute(select(BillingSettings))).scalar_one_or_none()

    async def lock_or_create(self, session: AsyncSession) -> BillingSettings:
        """The agency's row, created with the defaults if missing, and locked: two first
        saves at once neither collide on the key nor lose each other's fields."""
        await session.execute(
            text(
                "INSERT INTO billing_settings (tenant_id) "
                "VALUES (CAST(current_setting('app.tenant_id') AS uuid)) "
                "ON CONFLICT (tenant_id) DO NOTHING"
            )
        )
        stmt = select(BillingSettings).with_for_update().execution_options(populate_existing=True)
        return (await session.execute(stmt)).scalar_one()


billing_settings_repository = BillingSettingsRepository()
