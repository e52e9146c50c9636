"""The default pipeline every agency gets from `identity.agency.created`, made by CRM's
consumer of identity's events (and made only once, whatever is redelivered)."""

from __future__ import annotations

import uuid
from typing import Any

from agencyos.common.events import AgencyCreated, CloudEvent, build_event
from agencyos.testing.factories import AgencySession
from agencyos.testing.infra import wait_for
from agencyos.testing.kafka import TopicWriter
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows, fetch_value

DEFAULT_STAGES = [
    ("lead", "open", 10),
    ("proposal", "open", 40),
    ("negotiation", "open", 70),
    ("won", "won", 100),
    ("lost", "lost", 0),
]


async def crm_rows(platform: Platform, who: AgencySession, query: str, *args: Any) -> list[Any]:
    return await fetch_rows(
        platform.infra, platform.database("crm"), query, *args, tenant_id=who.agency_id, owner=True
    )


async def agency_created_handled(platform: Platform, who: AgencySession, event_id: Any) -> bool:
    count = await fetch_value(
        platform.infra,
        platform.database("crm"),
        "SELECT count(*) FROM inbox WHERE consumer = 'crm' AND event_id = $1",
        event_id,
        tenant_id=who.agency_id,
        owner=True,
    )
    return bool(count)


async def signup_event_id(platform: Platform, who: AgencySession) -> uuid.UUID:
    """The id of the `identity.agency.created` event identity published for the agency."""
    rows = await fetch_rows(
        platform.infra,
        platform.database("identity"),
        "SELECT event_id FROM outbox WHERE event_type = 'identity.agency.created'",
        tenant_id=who.agency_id,
        owner=True,
    )
    assert len(rows) == 1, rows
    event_id: uuid.UUID = rows[0]["event_id"]
    return event_id


class TestDefaultPipeline:
    async def test_a_new_agency_gets_the_sales_pipeline_from_its_created_event(
        self, platform: Platform, agency: AgencySession
    ) -> None:
        # Without calling a pipeline route (which would create it lazily): wait until the
        # crm consumer has handled the agency's identity.agency.created event.
        event_id = await signup_event_id(platform, agency)
        await wait_for(lambda: agency_created_handled(platform, agency, event_id), timeout=30)

        rows = await crm_rows(
            platform,
            agency,
            "SELECT p.name AS pipeline, p.is_default, s.name, s.kind, s.probability "
            "FROM pipelines p JOIN stages s ON s.pipeline_id = p.id ORDER BY s.position",
        )

        assert {(r["pipeline"], r["is_default"]) for r in rows} == {("Sales", True)}
        assert [(r["name"], r["kind"], r["probability"]) for r in rows] == DEFAULT_STAGES

    async def test_a_redelivered_or_repeated_agency_created_event_creates_nothing_more(
        self, platform: Platform, writer: TopicWriter, agency: AgencySession
    ) -> None:
        original = await signup_event_id(platform, agency)
        await wait_for(lambda: agency_created_handled(platform, agency, original), timeout=30)
        # A second event for the same agency (another id, so the inbox does not catch it):
        # the existing default pipeline is what stops it.
        again: CloudEvent = build_event(
            AgencyCreated(
                agency_id=agency.agency_id,
                slug=agency.slug,
                name="Again",
                owner_user_id=agency.user_id,
                currency="EUR",
                timezone="UTC",
            ),
            tenant_id=agency.agency_id,
            source_service="identity",
            subject=f"agencies/{agency.agency_id}",
        )
        topic = f"{platform.topic_prefix}identity.events"
        await writer.send_event(topic, again)
        await writer.send_event(topic, again)
        await wait_for(lambda: agency_created_handled(platform, agency, again.id), timeout=30)

        pipelines = await crm_rows(platform, agency, "SELECT id FROM pipelines")
        stages = await crm_rows(platform, agency, "SELECT id FROM stages")

        assert len(pipelines) == 1
        assert len(stages) == 5
