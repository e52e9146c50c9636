"""An agency's billing settings: payment terms, reminder offsets, and what the invoice prints
about the sender. Agencies that never saved any have the defaults; `effective_settings` is
what the rest of billing (invoice sending, the scheduler) reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.billing.billing_settings.repository import billing_settings_repository
from agencyos.billing.billing_settings.schemas import BillingSettingsUpdate
from agencyos.billing.models.settings import (
    DEFAULT_PAYMENT_TERMS_DAYS,
    DEFAULT_REMINDER_OFFSETS_DAYS,
)
from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal

SERVICE = "billing"


@dataclass(frozen=True)
class EffectiveBillingSettings:
    payment_terms_days: int
    reminder_offsets_days: tuple[int, ...]
    sender_address: str | None
    tax_number: str | None
    invoice_footer: str | None
    updated_at: datetime | None


DEFAULTS = EffectiveBillingSettings(
    payment_terms_days=DEFAULT_PAYMENT_TERMS_DAYS,
    reminder_offsets_days=tuple(sorted(DEFAULT_REMINDER_OFFSETS_DAYS)),
    sender_address=None,
    tax_number=None,
    invoice_footer=None,
    updated_at=None,
)


def _comparable(value: object) -> object:
    """A setting as JSON keeps it: the reminder offsets as a list."""
    return list(value) if isinstance(value, tuple) else value


class BillingSettingsService:
    async def effective_settings(self, session: AsyncSession) -> EffectiveBillingSettings:
        """The transaction's agency's settings, or the defaults."""
        row = await billing_settings_repository.find(session)
        if row is None:
            return DEFAULTS
        return EffectiveBillingSettings(
            payment_terms_days=row.payment_terms_days,
            reminder_offsets_days=tuple(sorted(set(row.reminder_offsets_days))),
            sender_address=row.sender_address,
            tax_number=row.tax_number,
            invoice_footer=row.invoice_footer,
            updated_at=row.updated_at,
        )

    async def update(
        self, session: AsyncSession, principal: Principal, body: BillingSettingsUpdate
    ) -> EffectiveBillingSettings:
        changes = body.model_dump(exclude_unset=True)
        current = await self.effective_settings(session)
        row = await billing_settings_repository.lock_or_create(session)
        before: dict[str, object] = {}
        for name, value in changes.items():
            if name == "reminder_offsets_days":
                value = sorted(value)
            elif isinstance(value, str) and not value:
                value = None  # an empty text clears it, like null
            before[name] = _comparable(getattr(current, name))
            setattr(row, name, value)
        await session.flush()
        updated = await self.effective_settings(session)
        after = {name: _comparable(getattr(updated, name)) for name in changes}
        if before != after:
            # Only the fields that changed are kept (record_audit drops the others).
            await record_audit(
                session,
                action="billing_settings.changed",
                entity_type="billing_settings",
                entity_id=principal.tenant_id,
                actor=principal,
                source_service=SERVICE,
                before=before,
                after=after,
            )
        return updated


billing_settings_service = BillingSettingsService()
