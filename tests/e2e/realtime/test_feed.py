"""The event feed through the gateway: work's real events over Kafka into notification's feed
recorder, read back with `GET /v1/events` by each person as their role allows."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import AgencySession, new_project, new_task
from agencyos.testing.inbox import join
from agencyos.testing.infra import wait_for
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e


async def feed(
    gateway: httpx.AsyncClient, who: AgencySession, **params: Any
) -> list[dict[str, Any]]:
    """Every event of `who`'s feed they may see, walking `next_cursor` to the end."""
    items: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        query = {"limit": 500, **params} | ({"after": after} if after else {})
        response = await gateway.get("/v1/events", params=query, headers=who.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        after = body["next_cursor"]
        if not body["more"]:
            return items


def about(items: list[dict[str, Any]], field: str, value: str) -> list[str]:
    return [item["type"] for item in items if item["data"].get(field) == value]


async def test_a_managers_project_and_task_reach_the_feed_of_those_who_may_see_them(
    platform: Platform,
    gateway: httpx.AsyncClient,
    agency: AgencySession,
    other_agency: AgencySession,
) -> None:
    manager = await join(gateway, agency, "manager", name="Mona Manager")
    outsider = await join(gateway, agency, "member", name="Otto Outsider")
    project = await new_project(gateway, manager, name=f"Relaunch {uuid.uuid4().hex[:6]}")
    task = await new_task(gateway, manager, project["id"])

    async def both_seen() -> list[dict[str, Any]] | None:
        items = await feed(gateway, manager)
        seen = about(items, "project_id", project["id"])
        return items if {"work.project.created", "work.task.created"} <= set(seen) else None

    items = await wait_for(both_seen, timeout=30, interval=0.2)
    assert isinstance(items, list)
    [task_event] = [i for i in items if i["type"] == "work.task.created"]
    assert task_event["data"]["task_id"] == task["id"]
    assert task_event["tenantid"] == str(agency.agency_id)
    assert task_event["cursor"].startswith("ev1_")
    # the same page again from the task's cursor starts after it
    after_task = await feed(gateway, manager, after=task_event["cursor"])
    assert task["id"] not in {i["data"].get("task_id") for i in after_task}

    # Recorded (the manager saw it), so every later read covers it: the member who is not on
    # the project does not see it, nor does the other agency.
    assert about(await feed(gateway, outsider), "project_id", project["id"]) == []
    theirs = await feed(gateway, other_agency)
    assert about(theirs, "project_id", project["id"]) == []
    assert {i["tenantid"] for i in theirs} <= {str(other_agency.agency_id)}


async def test_a_persons_own_notices_and_unread_count_reach_their_feed_only(
    platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
) -> None:
    manager = await join(gateway, agency, "manager", name="Mona Manager")
    member = await join(gateway, agency, "member", name="Ada Lovelace")
    project = await new_project(gateway, manager, member)
    task = await new_task(gateway, manager, project["id"], assignee_ids=[str(member.user_id)])

    async def told(event_type: str) -> dict[str, Any] | None:
        mine = [i for i in await feed(gateway, member) if i["type"] == event_type]
        return mine[-1] if mine else None

    notice = await wait_for(lambda: told("notification.notice.created"), timeout=30)
    assert isinstance(notice, dict)
    assert notice["data"]["recipient_id"] == str(member.user_id)
    assert notice["data"]["unread_count"] >= 1
    assert notice["source"] == "/agencyos/notification"
    assert task["id"] in (notice["data"]["link"] or "")

    response = await gateway.post("/v1/notifications/read-all", headers=member.headers)
    assert response.status_code == 200, response.text
    changed = await wait_for(lambda: told("notification.unread_count.changed"), timeout=30)
    assert isinstance(changed, dict)
    assert changed["data"] == {"recipient_id": str(member.user_id), "unread_count": 0}

    # someone else's notices are theirs alone, whatever the reader's role
    theirs = await feed(gateway, manager, types="notification.*")
    assert {i["data"]["recipient_id"] for i in theirs} <= {str(manager.user_id)}
