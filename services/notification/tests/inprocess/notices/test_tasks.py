"""Task notices (assigned, mentioned, commented, completed, client feedback): each reaches
exactly the people the rules name, never the actor, nobody who cannot see the project,
nobody suspended, nobody of another agency, and once however often the event comes."""

from __future__ import annotations

import json
import uuid
from datetime import date

from agencyos.common.db import utcnow
from agencyos.common.events import (
    CloudEvent,
    CommentCreated,
    CommentMentioned,
    FeedbackReceived,
    TaskAssigned,
    TaskCompleted,
)
from agencyos.testing.inprocess import Caller, InProcess
from agencyos.testing.notices import (
    Cast,
    deliver,
    emailed,
    event_of,
    notices_of,
    project_created,
    told,
)


def assigned(people: Cast, to: Caller, by: Caller | None, **fields: object) -> CloudEvent:
    return event_of(
        TaskAssigned(
            task_id=fields.get("task_id", uuid.uuid4()),
            project_id=fields.get("project_id", people.project_id),
            task_title="Homepage copy",
            assignee_id=to.user_id,
            assigned_by=by.user_id if by else None,
            due_date=date(2026, 12, 10),
        ),
        people.agency.id,
    )


class TestTaskAssigned:
    async def test_the_assignee_is_told_who_assigned_what_with_a_link_to_the_task(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = assigned(people, people.member, people.manager)

        await deliver(in_process, event)

        [note] = await notices_of(in_process, people.member, "task.assigned")
        assert note["title"] == "Mona Manager assigned you \u201cHomepage copy\u201d"
        assert note["link"] == f"/v1/tasks/{event.data['task_id']}"
        assert note["actor_id"] == people.manager.user_id
        assert json.loads(note["data"])["project_id"] == str(people.project_id)
        assert people.names(await told(in_process, event, "task.assigned")) == {"member"}

    async def test_the_assignee_gets_the_task_assigned_email(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = assigned(people, people.member, people.manager)

        await deliver(in_process, event)

        [email] = await emailed(in_process, event)
        assert email["template"] == "task_assigned"
        assert email["user_id"] == people.member.user_id
        assert "Homepage copy" in email["text"]
        assert f"/v1/tasks/{event.data['task_id']}" in email["text"]

    async def test_someone_who_assigns_themselves_is_not_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = assigned(people, people.member, people.member)

        await deliver(in_process, event)

        assert await told(in_process, event, "task.assigned") == set()
        assert await emailed(in_process, event) == []

    async def test_a_member_not_on_the_project_is_not_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = assigned(people, people.outsider, people.manager)

        await deliver(in_process, event)

        assert await told(in_process, event, "task.assigned") == set()

    async def test_a_suspended_member_is_not_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = assigned(people, people.suspended, people.manager)

        await deliver(in_process, event)

        assert await told(in_process, event, "task.assigned") == set()

    async def test_a_client_user_is_not_told_of_a_staff_kind(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = assigned(people, people.client, people.manager)

        await deliver(in_process, event)

        assert await told(in_process, event, "task.assigned") == set()

    async def test_someone_of_another_agency_named_by_the_event_is_not_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = assigned(people, people.stranger, people.manager)

        await deliver(in_process, event)

        assert await told(in_process, event, "task.assigned") == set()
        assert await notices_of(in_process, people.stranger) == []

    async def test_a_task_of_a_project_not_known_is_told_only_to_those_who_see_every_project(
        self, in_process: InProcess, people: Cast
    ) -> None:
        to_member = assigned(people, people.member, None, project_id=uuid.uuid4())
        to_owner = assigned(people, people.owner, None, project_id=uuid.uuid4())

        await deliver(in_process, to_member, to_owner)

        assert await told(in_process, to_member, "task.assigned") == set()
        assert people.names(await told(in_process, to_owner, "task.assigned")) == {"owner"}

    async def test_the_same_event_delivered_again_tells_once(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = assigned(people, people.member, people.manager)

        outcomes = await deliver(in_process, event, event, event)

        assert outcomes == ["ok", "duplicate", "duplicate"]
        assert len(await notices_of(in_process, people.member, "task.assigned")) == 1
        assert len(await emailed(in_process, event)) == 1


def mention(people: Cast, to: Caller, by: Caller) -> CloudEvent:
    return event_of(
        CommentMentioned(
            comment_id=uuid.uuid4(),
            task_id=uuid.uuid4(),
            project_id=people.project_id,
            task_title="Homepage copy",
            mentioned_user_id=to.user_id,
            author_id=by.user_id,
            excerpt="@ada can you look at the hero?",
        ),
        people.agency.id,
    )


class TestCommentMentioned:
    async def test_the_mentioned_member_is_told_with_the_excerpt_and_emailed(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = mention(people, people.member, people.manager)

        await deliver(in_process, event)

        [note] = await notices_of(in_process, people.member, "comment.mentioned")
        assert note["title"] == "Mona Manager mentioned you on \u201cHomepage copy\u201d"
        assert note["body"] == "@ada can you look at the hero?"
        [email] = await emailed(in_process, event)
        assert (email["template"], email["user_id"]) == ("mention", people.member.user_id)

    async def test_a_mentioned_member_not_on_the_project_is_not_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = mention(people, people.outsider, people.manager)

        await deliver(in_process, event)

        assert await told(in_process, event, "comment.mentioned") == set()
        assert await emailed(in_process, event) == []


def comment(
    people: Cast,
    author: Caller,
    *,
    assignees: list[Caller],
    followers: list[Caller],
    mentioned: tuple[Caller, ...] = (),
) -> CloudEvent:
    return event_of(
        CommentCreated(
            comment_id=uuid.uuid4(),
            task_id=uuid.uuid4(),
            project_id=people.project_id,
            task_title="Homepage copy",
            author_id=author.user_id,
            excerpt="Looks good to me",
            mentioned_user_ids=[m.user_id for m in mentioned],
            assignee_ids=[a.user_id for a in assignees],
            follower_ids=[f.user_id for f in followers],
        ),
        people.agency.id,
    )


class TestTaskCommented:
    async def test_assignees_and_followers_are_told_but_not_the_author_nor_the_mentioned(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = comment(
            people,
            people.manager,
            assignees=[people.member, people.manager],
            followers=[people.owner, people.manager],
            mentioned=(people.owner,),
        )

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "task.commented")) == {"member"}
        [note] = await notices_of(in_process, people.member, "task.commented")
        assert note["title"] == "Mona Manager commented on \u201cHomepage copy\u201d"

    async def test_followers_who_cannot_see_the_project_or_are_suspended_are_not_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = comment(
            people,
            people.manager,
            assignees=[people.suspended],
            followers=[people.outsider, people.client, people.stranger, people.owner],
        )

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "task.commented")) == {"owner"}

    async def test_task_commented_sends_no_email_by_default(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = comment(people, people.manager, assignees=[people.member], followers=[])

        await deliver(in_process, event)

        assert await emailed(in_process, event) == []


def completed(people: Cast, by: Caller | None, project_id: uuid.UUID | None = None) -> CloudEvent:
    return event_of(
        TaskCompleted(
            task_id=uuid.uuid4(),
            project_id=project_id or people.project_id,
            title="Homepage copy",
            status="done",
            column_id=uuid.uuid4(),
            assignee_ids=[people.member.user_id],
            visible_to_client=False,
            task_version=4,
            actor_id=by.user_id if by else None,
            completed_at=utcnow(),
        ),
        people.agency.id,
    )


class TestTaskCompleted:
    async def test_the_projects_managers_are_told_and_nobody_else(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = completed(people, people.member)

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "task.completed")) == {"manager"}
        [note] = await notices_of(in_process, people.manager, "task.completed")
        assert note["title"] == "Ada Lovelace completed \u201cHomepage copy\u201d"

    async def test_a_manager_who_completed_it_themselves_is_not_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = completed(people, people.manager)

        await deliver(in_process, event)

        assert await told(in_process, event, "task.completed") == set()

    async def test_without_a_manager_on_the_project_its_creator_is_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        created = project_created(
            people.agency, people.member, people.outsider, created_by=people.outsider
        )
        await deliver(in_process, created)
        event = completed(people, people.member, uuid.UUID(created.data["project_id"]))

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "task.completed")) == {"outsider"}

    async def test_a_creator_who_can_no_longer_see_the_project_is_not_told(
        self, in_process: InProcess, people: Cast
    ) -> None:
        created = project_created(people.agency, people.member, created_by=people.outsider)
        await deliver(in_process, created)
        event = completed(people, people.member, uuid.UUID(created.data["project_id"]))

        await deliver(in_process, event)

        assert await told(in_process, event, "task.completed") == set()


class TestFeedbackReceived:
    async def test_the_projects_managers_are_told_of_the_clients_feedback(
        self, in_process: InProcess, people: Cast
    ) -> None:
        event = event_of(
            FeedbackReceived(
                task_id=uuid.uuid4(),
                project_id=people.project_id,
                client_id=people.client_id,
                author_id=people.client.user_id,
                excerpt="The logo is too small",
            ),
            people.agency.id,
        )

        await deliver(in_process, event)

        assert people.names(await told(in_process, event, "feedback.received")) == {"manager"}
        [note] = await notices_of(in_process, people.manager, "feedback.received")
        assert note["title"] == "Cleo Client sent feedback on Website relaunch"
        assert note["body"] == "The logo is too small"
