"""The task activity log: every change to a task, with each field's old and new value, who
made it and when. Written in the transaction of the change itself, so the log never claims a
change that was rolled back, nor misses one that was committed."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.errors import NotFound
from agencyos.common.pagination import PageParams
from agencyos.work.models import Task, TaskActivity
from agencyos.work.project.access import visible_project
from agencyos.work.task.repository import activity_repository, task_repository

# The fields a task's history tracks, in the order changes are listed.
TRACKED_FIELDS = (
    "title",
    "description",
    "column_id",
    "status",
    "position",
    "priority",
    "assignee_ids",
    "due_date",
    "estimate_hours",
    "labels",
    "milestone_id",
    "visible_to_client",
    "completed_at",
    "blocked_by",
)

_LAST_AT = "agencyos.work.activity_last_at"


def to_json(value: Any) -> Any:
    """A value as it is stored in `changes` (JSON): ids and dates as strings, hours as numbers."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, list | tuple | set | frozenset):
        return [to_json(v) for v in value]
    return str(value)


def change(field: str, old: Any, new: Any) -> dict[str, Any]:
    return {"field": field, "old": to_json(old), "new": to_json(new)}


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The fields whose value differs, as changes (in TRACKED_FIELDS order)."""
    names = [f for f in TRACKED_FIELDS if f in new] + [f for f in new if f not in TRACKED_FIELDS]
    return [
        change(name, old.get(name), new[name])
        for name in names
        if to_json(old.get(name)) != to_json(new[name])
    ]


def _occurred_at(session: AsyncSession) -> datetime:
    """Now, strictly after anything this transaction already logged (so the feed keeps the
    order of changes made in one request)."""
    now = utcnow()
    last: datetime | None = session.info.get(_LAST_AT)
    if last is not None and now <= last:
        now = last + timedelta(microseconds=1)
    session.info[_LAST_AT] = now
    return now


async def record(
    session: AsyncSession,
    task: Task,
    actor_id: uuid.UUID | None,
    action: str,
    changes: Sequence[dict[str, Any]] = (),
) -> TaskActivity:
    entry = TaskActivity(
        tenant_id=task.tenant_id,
        id=uuid.uuid4(),
        project_id=task.project_id,
        task_id=task.id,
        actor_id=actor_id,
        action=action,
        changes=list(changes),
        occurred_at=_occurred_at(session),
    )
    session.add(entry)
    await session.flush()
    return entry


class ActivityService:
    async def of_task(
        self,
        session: AsyncSession,
        principal: Principal,
        task_id: uuid.UUID,
        params: PageParams,
    ) -> tuple[list[TaskActivity], int]:
        task = await task_repository.get(session, task_id)
        if task is None:
            raise NotFound("no such task")
        await visible_project(session, principal, task.project_id)
        rows, total = await activity_repository.paginate(
            session,
            activity_repository.of_task(task_id),
            page=params.page,
            per_page=params.per_page,
        )
        return list(rows), total

    async def of_project(
        self,
        session: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        params: PageParams,
    ) -> tuple[list[TaskActivity], int]:
        await visible_project(session, principal, project_id)
        rows, total = await activity_repository.paginate(
            session,
            activity_repository.of_project(project_id),
            page=params.page,
            per_page=params.per_page,
        )
        return list(rows), total


activity_service = ActivityService()
