"""Deals and work's `work.project.created`: CRM's consumer links the project to its deal (once,
whatever is redelivered), the timeline says so, and a deal with a project is kept."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from agencyos.common.events import CloudEvent, ProjectCreated, build_event
from agencyos.testing.deals import create_deal, get_deal, timeline_rows
from agencyos.testing.factories import AgencySession
from agencyos.testing.http import assert_problem
from agencyos.testing.infra import wait_for
from agencyos.testing.kafka import TopicWriter
from agencyos.testing.platform import Platform


def project_created(
    agency: AgencySession, deal: dict[str, Any] | None, name: str = "Shop build"
) -> CloudEvent:
    project_id = uuid.uuid4()
    return build_event(
        ProjectCreated(
            project_id=project_id,
            name=name,
            client_id=uuid.UUID(deal["client_id"]) if deal else None,
            deal_id=uuid.UUID(deal["id"]) if deal else None,
            created_by=None,
        ),
        tenant_id=agency.agency_id,
        source_service="work",
        subject=f"projects/{project_id}",
    )


class TestProjectCreated:
    async def test_the_deal_shows_its_project_and_the_timeline_says_so(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        writer: TopicWriter,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        # The deal stays open here: the running work service makes a project of its own for
        # every won deal, and this test is about the event it sends, written by hand.
        deal = await create_deal(gateway, agency, client, title="Shop")
        event = project_created(agency, deal)

        await writer.send_event(f"{platform.topic_prefix}work.events", event)

        async def linked() -> bool:
            found = await get_deal(gateway, agency, deal["id"])
            return found["project_id"] == event.data["project_id"]

        await wait_for(linked, timeout=30)
        rows = [
            r
            for r in await timeline_rows(platform, agency, client["id"])
            if r["kind"] == "project_created"
        ]
        assert len(rows) == 1
        assert rows[0]["source_event_id"] == event.id
        assert rows[0]["title"] == "Project Shop build created from deal Shop"

    async def test_a_redelivered_event_links_once(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        writer: TopicWriter,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        sentinel_deal = await create_deal(gateway, agency, client)
        event = project_created(agency, deal)
        sentinel = project_created(agency, sentinel_deal)
        topic = f"{platform.topic_prefix}work.events"

        for _ in range(3):
            await writer.send_event(topic, event)
        await writer.send_event(topic, sentinel)

        async def sentinel_linked() -> bool:
            found = await get_deal(gateway, agency, sentinel_deal["id"])
            return found["project_id"] == sentinel.data["project_id"]

        await wait_for(sentinel_linked, timeout=30)
        assert (await get_deal(gateway, agency, deal["id"]))["project_id"] == event.data[
            "project_id"
        ]
        rows = await timeline_rows(platform, agency, client["id"])
        assert [r["source_event_id"] for r in rows if r["kind"] == "project_created"] == [
            event.id,
            sentinel.id,
        ]

    async def test_a_deal_with_a_project_cannot_be_deleted(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        writer: TopicWriter,
        agency: AgencySession,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(gateway, agency, client)
        event = project_created(agency, deal)
        await writer.send_event(f"{platform.topic_prefix}work.events", event)

        async def linked() -> bool:
            return bool((await get_deal(gateway, agency, deal["id"]))["project_id"])

        await wait_for(linked, timeout=30)

        response = await gateway.delete(f"/v1/deals/{deal['id']}", headers=agency.headers)

        assert_problem(response, 409, "conflict")
