"""Each person's channels decide where a notice goes: their own choice, else the agency's
default for their role, else the catalog's; in-app and email independently. Emails carry the
agency's brand and the link that stops that kind's email."""

from __future__ import annotations

import uuid

import httpx

from agencyos.common.events import (
    AgencyCreated,
    CloudEvent,
    CommentCreated,
    CommentMentioned,
    TaskAssigned,
)
from agencyos.testing.inprocess import Caller, InProcess
from agencyos.testing.notices import Cast, deliver, emailed, event_of, notices_of, told


def assigned(people: Cast, to: Caller) -> CloudEvent:
    return event_of(
        TaskAssigned(
            task_id=uuid.uuid4(),
            project_id=people.project_id,
            task_title="Homepage copy",
            assignee_id=to.user_id,
            assigned_by=people.manager.user_id,
        ),
        people.agency.id,
    )


def commented(people: Cast, to: Caller) -> CloudEvent:
    return event_of(
        CommentCreated(
            comment_id=uuid.uuid4(),
            task_id=uuid.uuid4(),
            project_id=people.project_id,
            task_title="Homepage copy",
            author_id=people.manager.user_id,
            excerpt="Nice",
            mentioned_user_ids=[],
            assignee_ids=[to.user_id],
            follower_ids=[],
        ),
        people.agency.id,
    )


async def choose(
    in_process: InProcess, who: Caller, kind: str, channel: str, enabled: bool
) -> None:
    service = await in_process.service("notification")
    await service.rows(
        "INSERT INTO notification_preferences (tenant_id, user_id, kind, channel, enabled) "
        "VALUES ($1, $2, $3, $4, $5)",
        who.agency_id,
        who.user_id,
        kind,
        channel,
        enabled,
        tenant_id=who.agency_id,
    )


async def agency_default(
    in_process: InProcess, people: Cast, role: str, kind: str, channel: str, enabled: bool
) -> None:
    service = await in_process.service("notification")
    await service.rows(
        "INSERT INTO notification_role_defaults (tenant_id, role, kind, channel, enabled) "
        "VALUES ($1, $2, $3, $4, $5)",
        people.agency.id,
        role,
        kind,
        channel,
        enabled,
        tenant_id=people.agency.id,
    )


class TestChannels:
    async def test_by_default_an_assignment_is_in_app_and_emailed(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = assigned(people, people.member)

        await deliver(in_process, event)

        assert len(await notices_of(in_process, people.member, "task.assigned")) == 1
        assert len(await emailed(in_process, event)) == 1

    async def test_a_person_who_turned_the_email_off_gets_only_the_in_app_notice(
        self, in_process: InProcess, people: Cast
    ) -> None:
        await choose(in_process, people.member, "task.assigned", "email", False)
        event = assigned(people, people.member)

        await deliver(in_process, event)

        assert len(await notices_of(in_process, people.member, "task.assigned")) == 1
        assert await emailed(in_process, event) == []

    async def test_a_person_who_turned_in_app_off_gets_only_the_email(
        self, in_process: InProcess, people: Cast
    ) -> None:
        await choose(in_process, people.member, "task.assigned", "in_app", False)
        event = assigned(people, people.member)

        await deliver(in_process, event)

        assert await told(in_process, event, "task.assigned") == set()
        assert len(await emailed(in_process, event)) == 1

    async def test_the_agency_default_for_the_role_turns_an_email_on(
        self, in_process: InProcess, people: Cast
    ) -> None:
        await agency_default(in_process, people, "member", "task.commented", "email", True)
        event = commented(people, people.member)

        await deliver(in_process, event)

        [email] = await emailed(in_process, event)
        assert email["user_id"] == people.member.user_id

    async def test_a_persons_own_choice_wins_over_the_agency_default(
        self, in_process: InProcess, people: Cast
    ) -> None:
        await agency_default(in_process, people, "member", "task.commented", "email", True)
        await choose(in_process, people.member, "task.commented", "email", False)
        event = commented(people, people.member)

        await deliver(in_process, event)

        assert await emailed(in_process, event) == []
        assert len(await notices_of(in_process, people.member, "task.commented")) == 1


class TestEmails:
    async def test_an_email_speaks_for_the_agency_and_goes_to_the_persons_address(
        self, in_process: InProcess, people: Cast
    ) -> None:
        brand = event_of(
            AgencyCreated(
                agency_id=people.agency.id,
                slug="northwind",
                name="Northwind Studio",
                owner_user_id=people.owner.user_id,
                currency="EUR",
                timezone="Europe/Berlin",
            ),
            people.agency.id,
        )
        event = assigned(people, people.member)

        await deliver(in_process, brand, event)

        [email] = await emailed(in_process, event)
        assert email["to_email"] == f"{people.member.user_id.hex[:10]}@example.com"
        assert email["to_name"] == "Ada Lovelace"
        assert email["kind"] == "task.assigned"
        assert "Northwind Studio" in email["html"]
        assert "Mona Manager" in email["text"]


class TestUnsubscribe:
    async def test_the_emails_unsubscribe_link_stops_that_kinds_email_and_nothing_else(
        self, in_process: InProcess, notification: httpx.AsyncClient, people: Cast
    ) -> None:
        first = assigned(people, people.member)
        await deliver(in_process, first)
        [email] = await emailed(in_process, first)
        link = httpx.URL(email["unsubscribe_url"])
        assert link.path == "/v1/notification-preferences/unsubscribe"
        assert f"/v1/tasks/{first.data['task_id']}" in email["text"]

        answer = await notification.get(link.path, params=dict(link.params))
        assert answer.status_code == 200, answer.text
        again = assigned(people, people.member)
        mentioned = event_of(
            CommentMentioned(
                comment_id=uuid.uuid4(),
                task_id=uuid.uuid4(),
                project_id=people.project_id,
                task_title="Homepage copy",
                mentioned_user_id=people.member.user_id,
                author_id=people.manager.user_id,
                excerpt="@ada",
            ),
            people.agency.id,
        )
        await deliver(in_process, again, mentioned)

        assert await emailed(in_process, again) == []
        assert len(await notices_of(in_process, people.member, "task.assigned")) == 2
        assert [e["template"] for e in await emailed(in_process, mentioned)] == ["mention"]
