"""work's tasks as its events tell them (`tasks`): what the daily and weekly digests list.
The newest `task_version` wins, so a late redelivery never brings an old state back.

A deleted task (`work.task.deleted`) stays as a tombstone: its row says `deleted` and keeps no
assignees or due date, and no later event changes it. A deletion carries no version, so only
a row that remembers it keeps an update that arrives late (or a creation that arrives after
it) from bringing the task back into the digests. It is the row the task had anyway."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import (
    TaskCompleted,
    TaskCreated,
    TaskDeleted,
    TaskMoved,
    TaskUpdated,
)
from agencyos.notification.models import DirectoryTask

DONE = "done"
# Not a status of work's: the status of a tombstone.
DELETED = "deleted"
TITLE_LENGTH = 300

TaskEvent = TaskCreated | TaskUpdated | TaskMoved | TaskCompleted


@dataclass(frozen=True)
class Task:
    id: uuid.UUID
    project_id: uuid.UUID
    title: str
    status: str
    assignee_ids: frozenset[uuid.UUID]
    due_date: date | None
    visible_to_client: bool

    @classmethod
    def of(cls, row: DirectoryTask) -> Task:
        return cls(
            id=row.id,
            project_id=row.project_id,
            title=row.title,
            status=row.status,
            assignee_ids=frozenset(row.assignee_ids or ()),
            due_date=row.due_date,
            visible_to_client=row.visible_to_client,
        )


class TaskRepository:
    async def apply(self, session: AsyncSession, tenant_id: uuid.UUID, task: TaskEvent) -> None:
        """Keep the task as the event tells it, unless a newer version is kept."""
        values = {
            "project_id": task.project_id,
            "title": task.title[:TITLE_LENGTH],
            "status": task.status,
            "assignee_ids": list(task.assignee_ids),
            "due_date": task.due_date,
            "visible_to_client": task.visible_to_client,
            "task_version": task.task_version,
        }
        stmt = insert(DirectoryTask).values(tenant_id=tenant_id, id=task.task_id, **values)
        await session.execute(
            stmt.on_conflict_do_update(
                index_elements=["tenant_id", "id"],
                set_=values,
                where=(DirectoryTask.task_version <= stmt.excluded.task_version)
                & (DirectoryTask.status != DELETED),
            )
        )

    async def forget(self, session: AsyncSession, tenant_id: uuid.UUID, task: TaskDeleted) -> None:
        """Make the task a tombstone (also one never seen before: its creation may come late)."""
        gone: dict[str, Any] = {"status": DELETED, "assignee_ids": [], "due_date": None}
        stmt = insert(DirectoryTask).values(
            tenant_id=tenant_id,
            id=task.task_id,
            project_id=task.project_id,
            title=task.title[:TITLE_LENGTH],
            visible_to_client=task.visible_to_client,
            task_version=0,
            **gone,
        )
        await session.execute(
            stmt.on_conflict_do_update(index_elements=["tenant_id", "id"], set_=gone)
        )

    async def open_assigned_due(
        self, session: AsyncSession, user_id: uuid.UUID, *, until: date
    ) -> list[Task]:
        """Open tasks assigned to `user_id` due on or before `until`, soonest first."""
        rows = await session.scalars(
            select(DirectoryTask)
            .where(
                DirectoryTask.status.not_in([DONE, DELETED]),
                DirectoryTask.due_date.is_not(None),
                DirectoryTask.due_date <= until,
                DirectoryTask.assignee_ids.contains([user_id]),
            )
            .order_by(DirectoryTask.due_date, DirectoryTask.title, DirectoryTask.id)
        )
        return [Task.of(row) for row in rows]


task_repository = TaskRepository()
