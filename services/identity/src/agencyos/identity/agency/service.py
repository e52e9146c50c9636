"""Agency settings: read them, change them (and tell the other services)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.errors import Conflict, NotFound
from agencyos.common.events import AgencyUpdated
from agencyos.common.outbox import publish
from agencyos.identity.agency.repository import SlugTaken, agency_repository
from agencyos.identity.agency.schemas import AgencyUpdate
from agencyos.identity.models import Agency

SERVICE = "identity"


class AgencyService:
    async def get(self, session: AsyncSession, principal: Principal) -> Agency:
        agency = await agency_repository.get(session, principal.tenant_id)
        if agency is None:
            raise NotFound("the agency no longer exists")
        return agency

    async def update(
        self, session: AsyncSession, principal: Principal, update: AgencyUpdate
    ) -> Agency:
        """Apply the fields the caller sent; publish `identity.agency.updated` when any of
        them actually changed (in the same transaction)."""
        agency = await agency_repository.get_for_update(session, principal.tenant_id)
        if agency is None:
            raise NotFound("the agency no longer exists")
        changes = {
            field: value
            for field, value in update.model_dump(exclude_unset=True).items()
            if getattr(agency, field) != value
        }
        if not changes:
            return agency
        before = {field: getattr(agency, field) for field in changes}
        try:
            await agency_repository.update(session, agency, changes)
        except SlugTaken as exc:
            raise Conflict("this slug is taken by another agency") from exc
        await publish(
            session,
            AgencyUpdated(
                agency_id=agency.id,
                changed_fields=sorted(changes),
                slug=agency.slug,
                name=agency.name,
                currency=agency.currency,
                timezone=agency.timezone,
                logo_url=agency.logo_url,
                brand_color=agency.brand_color,
                invoice_prefix=agency.invoice_prefix,
                default_tax_rate_bps=agency.default_tax_rate_bps,
            ),
            source_service=SERVICE,
            subject=f"agencies/{agency.id}",
        )
        await record_audit(
            session,
            action="agency.settings_changed",
            entity_type="agency",
            entity_id=agency.id,
            actor=principal,
            source_service=SERVICE,
            before=before,
            after={field: getattr(agency, field) for field in changes},
        )
        return agency


agency_service = AgencyService()
