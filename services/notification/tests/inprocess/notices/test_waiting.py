"""A person named by an event before notification knows them (their member.added is still on
its way): the notice waits for them and is made when they join, for them alone; a person who
joined and was removed meanwhile still hears nothing; stale parked notices are dropped."""

from __future__ import annotations

import uuid
from datetime import timedelta

from agencyos.common.db import utcnow
from agencyos.common.events import CloudEvent, TaskAssigned
from agencyos.testing.inprocess import Caller, InProcess
from agencyos.testing.notices import (
    Cast,
    deliver,
    emailed,
    event_of,
    member_added,
    notices_of,
    project_created,
    removed,
    told,
)


def assigned(people: Cast, to: Caller, project_id: uuid.UUID) -> CloudEvent:
    return event_of(
        TaskAssigned(
            task_id=uuid.uuid4(),
            project_id=project_id,
            task_title="Homepage copy",
            assignee_id=to.user_id,
            assigned_by=people.manager.user_id,
        ),
        people.agency.id,
    )


async def waiting(in_process: InProcess, people: Cast) -> list[uuid.UUID]:
    service = await in_process.service("notification")
    rows = await service.rows("SELECT user_id FROM waiting_notices", tenant_id=people.agency.id)
    return [r["user_id"] for r in rows]


class TestWaitingForAPerson:
    async def test_a_notice_for_someone_not_yet_known_waits_and_is_made_when_they_join(
        self, in_process: InProcess, people: Cast
    ) -> None:
        newcomer = people.agency.caller("member")
        project = project_created(people.agency, people.manager, newcomer)
        event = assigned(people, newcomer, uuid.UUID(project.data["project_id"]))

        await deliver(in_process, project, event)
        assert await told(in_process, event, "task.assigned") == set()
        assert await waiting(in_process, people) == [newcomer.user_id]

        await deliver(in_process, member_added(newcomer, name="Nina New"))

        [note] = await notices_of(in_process, newcomer, "task.assigned")
        assert note["source_event_id"] == event.id
        assert [e["user_id"] for e in await emailed(in_process, event)] == [newcomer.user_id]
        assert await waiting(in_process, people) == []

    async def test_only_the_person_who_joined_is_told_when_the_parked_event_is_made_again(
        self, in_process: InProcess, people: Cast
    ) -> None:
        from agencyos.common.events import CommentCreated

        newcomer = people.agency.caller("member")
        project = project_created(people.agency, people.manager, people.member, newcomer)
        event = event_of(
            CommentCreated(
                comment_id=uuid.uuid4(),
                task_id=uuid.uuid4(),
                project_id=uuid.UUID(project.data["project_id"]),
                task_title="Homepage copy",
                author_id=people.manager.user_id,
                excerpt="Done?",
                mentioned_user_ids=[],
                assignee_ids=[people.member.user_id, newcomer.user_id],
                follower_ids=[],
            ),
            people.agency.id,
        )
        await deliver(in_process, project, event)
        assert people.names(await told(in_process, event, "task.commented")) == {"member"}

        await deliver(in_process, member_added(newcomer))

        assert await told(in_process, event, "task.commented") == {
            people.member.user_id,
            newcomer.user_id,
        }
        assert len(await notices_of(in_process, people.member, "task.commented")) == 1

    async def test_someone_removed_before_their_late_member_added_arrives_hears_nothing(
        self, in_process: InProcess, people: Cast
    ) -> None:
        newcomer = people.agency.caller("member")
        event = assigned(people, newcomer, people.project_id)
        joined_at = utcnow() - timedelta(minutes=5)

        await deliver(in_process, event, removed(newcomer), member_added(newcomer, at=joined_at))

        assert await notices_of(in_process, newcomer) == []
        assert await waiting(in_process, people) == []

    async def test_a_notice_parked_longer_than_a_week_is_dropped_not_made(
        self, in_process: InProcess, people: Cast
    ) -> None:
        newcomer = people.agency.caller("member")
        project = project_created(people.agency, people.manager, newcomer)
        event = assigned(people, newcomer, uuid.UUID(project.data["project_id"])).model_copy(
            update={"time": utcnow() - timedelta(days=8)}
        )

        await deliver(in_process, project, event, member_added(newcomer))

        assert await notices_of(in_process, newcomer) == []
        assert await waiting(in_process, people) == []

    async def test_nobody_but_the_newcomer_is_told_when_the_parked_event_is_made_again(
        self, in_process: InProcess, people: Cast
    ) -> None:
        from agencyos.common.events import CommentCreated

        newcomer = people.agency.caller("member")
        project = project_created(people.agency, people.manager, newcomer)
        project_id = uuid.UUID(project.data["project_id"])
        event = event_of(
            CommentCreated(
                comment_id=uuid.uuid4(),
                task_id=uuid.uuid4(),
                project_id=project_id,
                task_title="Homepage copy",
                author_id=people.manager.user_id,
                excerpt="Done?",
                mentioned_user_ids=[],
                assignee_ids=[people.outsider.user_id, newcomer.user_id],
                follower_ids=[],
            ),
            people.agency.id,
        )
        await deliver(in_process, project, event)
        # the outsider could not see the project when it happened; they join it later
        joined = project_created(people.agency, people.manager, newcomer, people.outsider)
        joined = joined.model_copy(update={"data": {**joined.data, "project_id": str(project_id)}})
        await deliver(in_process, joined)

        await deliver(in_process, member_added(newcomer))

        assert await told(in_process, event, "task.commented") == {newcomer.user_id}
