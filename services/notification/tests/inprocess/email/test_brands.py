"""Each agency's brand, kept from identity's agency events and read back by `brand_of`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from agencyos.common.db import Database
from agencyos.common.events import AgencyCreated, AgencyUpdated, CloudEvent, build_event
from agencyos.notification.email.brands import NEUTRAL_BRAND, brand_of
from agencyos.notification.email.message import Brand
from agencyos.testing.inprocess import Agency, InProcess

AN_HOUR = timedelta(hours=1)


def agency_created(agency: Agency, *, at: datetime, name: str = "Acme") -> CloudEvent:
    event = build_event(
        AgencyCreated(
            agency_id=agency.id,
            slug=f"acme-{agency.id.hex[:8]}",
            name=name,
            owner_user_id=uuid.uuid4(),
            currency="EUR",
            timezone="Europe/Paris",
        ),
        tenant_id=agency.id,
        source_service="identity",
    )
    return event.model_copy(update={"time": at})


def agency_updated(
    agency: Agency,
    *,
    at: datetime,
    name: str = "Acme Studio",
    logo_url: str | None = "https://cdn.example.com/logo.png",
    brand_color: str | None = "#112233",
) -> CloudEvent:
    event = build_event(
        AgencyUpdated(
            agency_id=agency.id,
            changed_fields=["name"],
            slug=f"acme-{agency.id.hex[:8]}",
            name=name,
            currency="JPY",
            timezone="Asia/Tokyo",
            logo_url=logo_url,
            brand_color=brand_color,
            invoice_prefix="INV",
            default_tax_rate_bps=0,
        ),
        tenant_id=agency.id,
        source_service="identity",
    )
    return event.model_copy(update={"time": at})


async def brand(db: Database, agency: Agency) -> Brand:
    async with db.transaction(agency.id) as session:
        return await brand_of(session, agency.id)


class TestAnAgencyNotYetSeen:
    async def test_has_the_neutral_brand(self, notification_db: Database, tenant: Agency) -> None:
        found = await brand(notification_db, tenant)

        assert found == NEUTRAL_BRAND
        assert found.name == "AgencyOS"
        assert found.timezone == ZoneInfo("UTC")
        assert found.currency == "USD"


class TestAgencyEvents:
    async def test_a_created_agency_has_its_name_zone_and_currency(
        self, in_process: InProcess, notification_db: Database, tenant: Agency
    ) -> None:
        now = datetime.now(UTC)

        assert await in_process.deliver("notification", agency_created(tenant, at=now)) == "ok"

        assert await brand(notification_db, tenant) == Brand(
            "Acme", None, None, ZoneInfo("Europe/Paris"), "EUR"
        )

    async def test_an_update_brings_the_logo_colour_zone_and_currency(
        self, in_process: InProcess, notification_db: Database, tenant: Agency
    ) -> None:
        now = datetime.now(UTC)
        await in_process.deliver("notification", agency_created(tenant, at=now))

        await in_process.deliver("notification", agency_updated(tenant, at=now + AN_HOUR))

        assert await brand(notification_db, tenant) == Brand(
            "Acme Studio",
            "https://cdn.example.com/logo.png",
            "#112233",
            ZoneInfo("Asia/Tokyo"),
            "JPY",
        )

    async def test_an_older_event_arriving_late_changes_nothing(
        self, in_process: InProcess, notification_db: Database, tenant: Agency
    ) -> None:
        now = datetime.now(UTC)
        await in_process.deliver("notification", agency_updated(tenant, at=now, name="New name"))

        await in_process.deliver(
            "notification", agency_updated(tenant, at=now - AN_HOUR, name="Old name")
        )
        await in_process.deliver("notification", agency_created(tenant, at=now - 2 * AN_HOUR))

        found = await brand(notification_db, tenant)
        assert found.name == "New name"
        assert found.logo_url == "https://cdn.example.com/logo.png"

    async def test_a_removed_logo_is_removed(
        self, in_process: InProcess, notification_db: Database, tenant: Agency
    ) -> None:
        now = datetime.now(UTC)
        await in_process.deliver("notification", agency_updated(tenant, at=now))

        await in_process.deliver(
            "notification",
            agency_updated(tenant, at=now + AN_HOUR, logo_url=None, brand_color=None),
        )

        found = await brand(notification_db, tenant)
        assert (found.logo_url, found.brand_color) == (None, None)

    async def test_one_agency_s_brand_is_not_another_s(
        self,
        in_process: InProcess,
        notification_db: Database,
        tenant: Agency,
        other_tenant: Agency,
    ) -> None:
        await in_process.deliver("notification", agency_created(tenant, at=datetime.now(UTC)))

        async with notification_db.transaction(other_tenant.id) as session:
            # asked for the first agency under the second one's tenant: RLS hides the row
            assert await brand_of(session, tenant.id) == NEUTRAL_BRAND
        assert await brand(notification_db, other_tenant) == NEUTRAL_BRAND
