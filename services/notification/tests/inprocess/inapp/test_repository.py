"""`add_notification`, which the event handlers call: a notice is written once per event,
person and kind, however often the event is handled."""

from __future__ import annotations

import uuid

from agencyos.notification.inapp.service import add_notification
from agencyos.testing.inprocess import Agency, InProcess


async def add(
    in_process: InProcess,
    agency: Agency,
    user_id: uuid.UUID,
    event_id: uuid.UUID,
    kind: str = "task.assigned",
) -> bool:
    database = (await in_process.service("notification")).ctx.database()
    async with database.transaction(agency.id) as session:
        return await add_notification(
            session,
            tenant_id=agency.id,
            user_id=user_id,
            kind=kind,
            title="A task was assigned to you",
            body="Write the brief",
            subject="tasks/1",
            link="/v1/tasks/1",
            data={"task_id": "1"},
            source_event_id=event_id,
            actor_id=agency.owner.user_id,
        )


class TestWrittenOnce:
    async def test_the_first_write_is_kept_with_everything_it_was_given(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        user, event_id = uuid.uuid4(), uuid.uuid4()

        assert await add(in_process, tenant, user, event_id) is True

        service = await in_process.service("notification")
        [row] = await service.rows(
            "SELECT user_id, kind, title, body, subject, link, data, actor_id, read_at "
            "FROM notifications WHERE source_event_id = $1",
            event_id,
            tenant_id=tenant.id,
        )
        assert dict(row) | {"data": None} == {
            "user_id": user,
            "kind": "task.assigned",
            "title": "A task was assigned to you",
            "body": "Write the brief",
            "subject": "tasks/1",
            "link": "/v1/tasks/1",
            "data": None,
            "actor_id": tenant.owner.user_id,
            "read_at": None,
        }

    async def test_the_same_event_person_and_kind_again_writes_nothing(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        user, event_id = uuid.uuid4(), uuid.uuid4()
        await add(in_process, tenant, user, event_id)

        assert await add(in_process, tenant, user, event_id) is False

        service = await in_process.service("notification")
        rows = await service.rows(
            "SELECT 1 FROM notifications WHERE source_event_id = $1", event_id, tenant_id=tenant.id
        )
        assert len(rows) == 1

    async def test_another_kind_or_person_from_the_same_event_is_written(
        self, in_process: InProcess, tenant: Agency
    ) -> None:
        user, colleague, event_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        await add(in_process, tenant, user, event_id, "comment.mentioned")

        assert await add(in_process, tenant, user, event_id, "task.commented") is True
        assert await add(in_process, tenant, colleague, event_id, "comment.mentioned") is True
