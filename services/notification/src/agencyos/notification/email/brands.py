"""Each agency's brand, kept from identity's agency events: the name, logo and colour its
emails carry, and the time zone and currency their dates and amounts are shown in."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import AgencyCreated, AgencyUpdated, CloudEvent
from agencyos.common.zones import UTC_ZONE, zone_or_utc
from agencyos.notification.email.message import Brand
from agencyos.notification.models import AgencyBrand

# What an email of an agency not yet seen looks like.
NEUTRAL_BRAND = Brand(
    name="AgencyOS", logo_url=None, brand_color=None, timezone=UTC_ZONE, currency="USD"
)


async def brand_of(session: AsyncSession, tenant_id: uuid.UUID) -> Brand:
    """The agency's brand; the neutral one while its agency event has not arrived."""
    row = (
        await session.execute(select(AgencyBrand).where(AgencyBrand.tenant_id == tenant_id))
    ).scalar_one_or_none()
    if row is None:
        return NEUTRAL_BRAND
    return Brand(
        name=row.name,
        logo_url=row.logo_url,
        brand_color=row.brand_color,
        timezone=zone_or_utc(row.timezone),
        currency=row.currency,
    )


async def _keep(session: AsyncSession, event: CloudEvent, values: dict[str, object]) -> None:
    """Write the brand from `event` unless a newer event already wrote it (events of one
    agency may arrive out of order after a redelivery)."""
    row = {"tenant_id": event.tenantid, "event_time": event.time, **values}
    stmt = insert(AgencyBrand).values(**row)
    stmt = stmt.on_conflict_do_update(
        index_elements=[AgencyBrand.tenant_id],
        set_={name: stmt.excluded[name] for name in row if name != "tenant_id"},
        where=AgencyBrand.event_time < stmt.excluded.event_time,
    )
    await session.execute(stmt)


async def on_agency_created(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(AgencyCreated)
    await _keep(
        session,
        event,
        {
            "name": payload.name,
            "timezone": payload.timezone,
            "currency": payload.currency,
            "logo_url": None,
            "brand_color": None,
        },
    )


async def on_agency_updated(session: AsyncSession, event: CloudEvent) -> None:
    payload = event.payload(AgencyUpdated)
    await _keep(
        session,
        event,
        {
            "name": payload.name,
            "timezone": payload.timezone,
            "currency": payload.currency,
            "logo_url": payload.logo_url,
            "brand_color": payload.brand_color,
        },
    )
