"""Task notices through the whole platform: work's real events over Kafka into notification,
read back by each person through the gateway (in the app, and in mailpit for the kinds that
email), every link followed with the recipient's token. A member not on the project hears
nothing: a later notice to them proves the events before it were handled."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from agencyos.testing.factories import AgencySession, get_board, new_project, new_task
from agencyos.testing.inbox import (
    about,
    agency_name,
    emailed,
    follow,
    heard_only_a_later_notice,
    join,
    link_in,
    notices,
    subjects,
    wait_for_notice,
)
from agencyos.testing.platform import DIGEST_HOUR, Platform

pytestmark = pytest.mark.e2e


@dataclass
class Team:
    """An agency's owner, a manager and a member on one project, and a member not on it."""

    owner: AgencySession
    owner_name: str
    manager: AgencySession
    member: AgencySession
    outsider: AgencySession
    project: dict[str, Any]


async def team(gateway: httpx.AsyncClient, owner: AgencySession) -> Team:
    manager = await join(gateway, owner, "manager", name="Mona Manager")
    member = await join(gateway, owner, "member", name="Ada Lovelace")
    outsider = await join(gateway, owner, "member", name="Otto Outsider")
    project = await new_project(
        gateway, owner, manager, member, name=f"Relaunch {uuid.uuid4().hex[:6]}"
    )
    owner_name = (await follow(gateway, f"/v1/members/{owner.user_id}", owner))["name"]
    return Team(owner, owner_name, manager, member, outsider, project)


def tomorrow() -> str:
    return (datetime.now(UTC).date() + timedelta(days=1)).isoformat()


class TestTaskAssigned:
    async def test_the_assignee_reads_it_and_its_email_and_the_link_opens_the_task(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        crew = await team(gateway, agency)
        brand = await agency_name(gateway, agency)
        title = f"Design the landing page {uuid.uuid4().hex[:4]}"

        task = await new_task(
            gateway,
            agency,
            crew.project["id"],
            title=title,
            assignee_ids=[str(crew.member.user_id)],
            due_date=tomorrow(),
        )

        note = await wait_for_notice(
            gateway, crew.member, "task.assigned", about("task_id", task["id"])
        )
        assert note["title"] == f"{crew.owner_name} assigned you \u201c{title}\u201d"
        assert note["link"] == f"/v1/tasks/{task['id']}"
        message = await emailed(
            platform, crew.member.email, f"{crew.owner_name} assigned you {title}"
        )
        assert message.from_name == brand
        assert "Hello Ada Lovelace," in message.text
        assert f"in {crew.project['name']}." in message.text
        assert f"Sent by {brand} through AgencyOS." in message.text
        opened = await follow(gateway, link_in(message, platform, note["link"]), crew.member)
        assert (opened["id"], opened["title"]) == (task["id"], title)
        await heard_only_a_later_notice(gateway, agency, crew.outsider)
        assert await notices(gateway, crew.manager, "task.assigned") == []


class TestComments:
    async def test_a_mention_reaches_the_mentioned_in_the_app_and_by_email(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        crew = await team(gateway, agency)
        title = f"Write the hero copy {uuid.uuid4().hex[:4]}"
        task = await new_task(
            gateway,
            agency,
            crew.project["id"],
            title=title,
            assignee_ids=[str(crew.member.user_id)],
        )

        comment = await gateway.post(
            f"/v1/tasks/{task['id']}/comments",
            json={"body": f"@[Ada Lovelace]({crew.member.user_id}) could you review the hero?"},
            headers=crew.manager.headers,
        )
        assert comment.status_code == 201, comment.text

        note = await wait_for_notice(
            gateway, crew.member, "comment.mentioned", about("task_id", task["id"])
        )
        assert note["title"] == f"Mona Manager mentioned you on \u201c{title}\u201d"
        assert note["data"]["comment_id"] == comment.json()["id"]
        message = await emailed(
            platform, crew.member.email, f"Mona Manager mentioned you on {title}"
        )
        assert "Hello Ada Lovelace," in message.text
        assert "> @Ada Lovelace could you review the hero?" in message.text
        opened = await follow(gateway, link_in(message, platform, note["link"]), crew.member)
        assert opened["id"] == task["id"]
        # the task's creator follows it and hears of the comment; the mentioned (its
        # assignee too) does not hear it twice, nor the author at all
        await wait_for_notice(gateway, agency, "task.commented", about("task_id", task["id"]))
        assert await notices(gateway, crew.member, "task.commented") == []
        await heard_only_a_later_notice(gateway, agency, crew.outsider)
        assert await notices(gateway, crew.manager) == []

    async def test_a_comment_reaches_a_follower_and_the_assignee_but_not_its_author(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        crew = await team(gateway, agency)
        title = f"Fix the contact form {uuid.uuid4().hex[:4]}"
        task = await new_task(
            gateway,
            agency,
            crew.project["id"],
            title=title,
            assignee_ids=[str(crew.member.user_id)],
        )
        followed = await gateway.put(
            f"/v1/tasks/{task['id']}/followers/me", headers=crew.manager.headers
        )
        assert followed.status_code == 200, followed.text

        comment = await gateway.post(
            f"/v1/tasks/{task['id']}/comments",
            json={"body": "The form posts twice on Safari."},
            headers=agency.headers,
        )
        assert comment.status_code == 201, comment.text

        for who in (crew.manager, crew.member):
            note = await wait_for_notice(
                gateway, who, "task.commented", about("comment_id", comment.json()["id"])
            )
            assert note["title"] == f"{crew.owner_name} commented on \u201c{title}\u201d"
            assert note["body"] == "The form posts twice on Safari."
            opened = await follow(gateway, note["link"], who)
            assert opened["id"] == task["id"]
        await heard_only_a_later_notice(gateway, agency, crew.outsider)
        assert await notices(gateway, agency, "task.commented") == []


class TestTaskCompleted:
    async def test_the_projects_manager_hears_it_and_the_one_who_did_it_does_not(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        crew = await team(gateway, agency)
        elsewhere = await join(gateway, agency, "manager", name="Max Elsewhere")
        title = f"Ship the newsletter {uuid.uuid4().hex[:4]}"
        task = await new_task(
            gateway,
            agency,
            crew.project["id"],
            title=title,
            assignee_ids=[str(crew.member.user_id)],
        )
        board = await get_board(gateway, crew.member, crew.project["id"])
        done = next(c for c in board["columns"] if c["status"] == "done")

        moved = await gateway.post(
            f"/v1/tasks/{task['id']}/move",
            json={"column_id": done["id"]},
            headers=crew.member.headers,
        )
        assert moved.status_code == 200, moved.text

        note = await wait_for_notice(
            gateway, crew.manager, "task.completed", about("task_id", task["id"])
        )
        assert note["title"] == f"Ada Lovelace completed \u201c{title}\u201d"
        assert note["body"] == f"In {crew.project['name']}."
        opened = await follow(gateway, note["link"], crew.manager)
        assert (opened["id"], opened["status"]) == (task["id"], "done")
        await heard_only_a_later_notice(gateway, agency, crew.outsider)
        assert await notices(gateway, crew.member, "task.completed") == []
        # a manager who sees every project but is not on this one is not its manager
        assert await notices(gateway, elsewhere, "task.completed") == []


class TestPreferences:
    async def test_turning_the_assignment_email_off_stops_that_email_but_not_the_in_app_notice(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        crew = await team(gateway, agency)
        changed = await gateway.put(
            "/v1/notification-preferences",
            json={"preferences": [{"kind": "task.assigned", "email": False}]},
            headers=crew.member.headers,
        )
        assert changed.status_code == 200, changed.text
        title = f"Migrate the blog {uuid.uuid4().hex[:4]}"

        task = await new_task(
            gateway,
            agency,
            crew.project["id"],
            title=title,
            assignee_ids=[str(crew.member.user_id), str(crew.manager.user_id)],
        )

        subject = f"{crew.owner_name} assigned you {title}"
        # the manager, with the defaults, is emailed: the same event, in the same transaction
        await emailed(platform, crew.manager.email, subject)
        note = await wait_for_notice(
            gateway, crew.member, "task.assigned", about("task_id", task["id"])
        )
        assert note["link"] == f"/v1/tasks/{task['id']}"
        queued = await gateway.get(
            "/v1/email-deliveries", params={"to": crew.member.email}, headers=agency.headers
        )
        assert queued.status_code == 200, queued.text
        assert [i["template"] for i in queued.json()["items"]] == ["invitation"]
        assert subject not in await subjects(platform, crew.member.email)
        # other kinds still email them
        await gateway.post(
            f"/v1/tasks/{task['id']}/comments",
            json={"body": f"@[Ada Lovelace]({crew.member.user_id}) starting today"},
            headers=crew.manager.headers,
        )
        await emailed(platform, crew.member.email, f"Mona Manager mentioned you on {title}")
        assert subject not in await subjects(platform, crew.member.email)


class TestUnsubscribe:
    async def test_the_emails_unsubscribe_link_stops_that_kinds_email_and_nothing_else(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        crew = await team(gateway, agency)
        first = await new_task(
            gateway, agency, crew.project["id"], assignee_ids=[str(crew.member.user_id)]
        )
        message = await emailed(
            platform, crew.member.email, f"{crew.owner_name} assigned you {first['title']}"
        )
        [link] = [url for url in message.links if "/v1/notification-preferences/unsubscribe" in url]
        assert link.startswith(platform.gateway_url)
        assert message.header("List-Unsubscribe") == f"<{link}>"

        unsubscribed = await follow(gateway, link.removeprefix(platform.gateway_url))

        assert (unsubscribed["kind"], unsubscribed["email"]) == ("task.assigned", False)
        second = await new_task(
            gateway,
            agency,
            crew.project["id"],
            assignee_ids=[str(crew.member.user_id), str(crew.manager.user_id)],
        )
        subject = f"{crew.owner_name} assigned you {second['title']}"
        await emailed(platform, crew.manager.email, subject)
        await wait_for_notice(gateway, crew.member, "task.assigned", about("task_id", second["id"]))
        await gateway.post(
            f"/v1/tasks/{second['id']}/comments",
            json={"body": f"@[Ada Lovelace]({crew.member.user_id}) over to you"},
            headers=crew.manager.headers,
        )
        await emailed(
            platform, crew.member.email, f"Mona Manager mentioned you on {second['title']}"
        )
        assert subject not in await subjects(platform, crew.member.email)
        queued = await gateway.get(
            "/v1/email-deliveries",
            params={"to": crew.member.email, "template": "task_assigned"},
            headers=agency.headers,
        )
        assert queued.status_code == 200, queued.text
        assert [i["subject"] for i in queued.json()["items"]] == [message.subject]


def zone_at(local_hour: int, now: datetime) -> str:
    """A fixed-offset time zone whose clock shows `local_hour` at `now`."""
    for offset in range(-12, 15):
        if (now.hour + offset) % 24 == local_hour:
            # POSIX-style names: Etc/GMT-3 is three hours ahead of UTC
            return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"
    raise AssertionError(f"no zone shows {local_hour} o'clock")


class TestDueDigest:
    async def test_the_assignee_gets_the_digest_of_tomorrows_task_once_it_is_due_in_their_zone(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        now = datetime.now(UTC)
        before, after = zone_at(DIGEST_HOUR - 12, now), zone_at(DIGEST_HOUR, now)
        await set_zone(gateway, agency, before)
        crew = await team(gateway, agency)
        local_today: date = now.astimezone(ZoneInfo(after)).date()
        due = f"Send the proposal {uuid.uuid4().hex[:4]}"
        later = f"Plan the workshop {uuid.uuid4().hex[:4]}"
        for title, day in (
            (due, local_today + timedelta(days=1)),
            (later, local_today + timedelta(days=5)),
        ):
            task = await new_task(
                gateway,
                agency,
                crew.project["id"],
                title=title,
                assignee_ids=[str(crew.member.user_id)],
                due_date=day.isoformat(),
            )
            # notification knows the task (its `work.task.created` came before this)
            await wait_for_notice(
                gateway, crew.member, "task.assigned", about("task_id", task["id"])
            )
        assert await notices(gateway, crew.member, "tasks.due") == []

        await set_zone(gateway, agency, after)

        note = await wait_for_notice(gateway, crew.member, "tasks.due")
        assert note["title"] == "1 task need you: 1 due tomorrow"
        assert due in note["body"]
        assert later not in note["body"]
        assert note["data"]["day"] == local_today.isoformat()


async def set_zone(gateway: httpx.AsyncClient, owner: AgencySession, zone: str) -> None:
    response = await gateway.patch("/v1/agency", json={"timezone": zone}, headers=owner.headers)
    assert response.status_code == 200, response.text
