"""What a write to a task publishes, and placing a task in a board column (its status follows
the column; entering a done column completes it), shared by task and board writes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import utcnow
from agencyos.common.events import TaskAssigned, TaskCompleted, TaskMoved, TaskUpdated
from agencyos.common.outbox import publish
from agencyos.work.models import BoardColumn, Task
from agencyos.work.task import activity

SERVICE = "work"
DONE = "done"


def event_fields(task: Task, actor_id: uuid.UUID | None) -> dict[str, Any]:
    """The task as it is now, as every task event (`_TaskEvent`) carries it: with its place in
    its column, priority and labels, what a board needs to draw its card without a refetch."""
    return {
        "task_id": task.id,
        "project_id": task.project_id,
        "title": task.title,
        "status": task.status,
        "column_id": task.column_id,
        "assignee_ids": list(task.assignee_ids),
        "visible_to_client": task.visible_to_client,
        "task_version": task.version,
        "actor_id": actor_id,
        "due_date": task.due_date,
        "position": task.position,
        "priority": task.priority,
        "labels": list(task.labels),
    }


async def publish_task_event(session: AsyncSession, payload: Any, task: Task) -> None:
    await publish(session, payload, source_service=SERVICE, subject=f"tasks/{task.id}")


async def publish_renumbered(
    session: AsyncSession, tasks: list[Task], actor_id: uuid.UUID | None
) -> None:
    """work.task.updated (`position`) for each task a rebalance of its column renumbered: the
    order is the same, but a board that keeps positions from the events needs the new ones
    to place the next card between them. The version stays (no one's edit is made stale)."""
    for task in tasks:
        await publish_task_event(
            session, TaskUpdated(**event_fields(task, actor_id), changed_fields=["position"]), task
        )


async def publish_assigned(
    session: AsyncSession,
    task: Task,
    assignee_ids: list[uuid.UUID],
    assigned_by: uuid.UUID | None,
) -> None:
    """One work.task.assigned per member newly assigned (the actor too, when they assign
    themselves: whoever tells people leaves the actor out)."""
    for assignee_id in assignee_ids:
        await publish_task_event(
            session,
            TaskAssigned(
                task_id=task.id,
                project_id=task.project_id,
                task_title=task.title,
                assignee_id=assignee_id,
                assigned_by=assigned_by,
                due_date=task.due_date,
            ),
            task,
        )


@dataclass(frozen=True)
class Placement:
    """What placing a task in a column changed."""

    changes: list[dict[str, Any]]
    completed: bool
    reopened: bool
    column_changed: bool


def place(task: Task, column: BoardColumn, position: float) -> Placement:
    """Put the task in `column` at `position`: its status becomes the column's; entering a
    done column completes it (now), leaving one clears `completed_at`."""
    before = {
        "column_id": task.column_id,
        "status": task.status,
        "position": task.position,
        "completed_at": task.completed_at,
    }
    was_done = task.status == DONE
    task.column_id = column.id
    task.status = column.status
    task.position = position
    completed = False
    if column.status == DONE:
        if task.completed_at is None:
            task.completed_at = utcnow()
            completed = True
    else:
        task.completed_at = None
    after = {
        "column_id": task.column_id,
        "status": task.status,
        "position": task.position,
        "completed_at": task.completed_at,
    }
    return Placement(
        changes=activity.diff(before, after),
        completed=completed,
        reopened=was_done and column.status != DONE,
        column_changed=before["column_id"] != column.id,
    )


def placement_action(placement: Placement, default: str) -> str:
    if placement.completed:
        return "completed"
    if placement.reopened:
        return "reopened"
    return default


async def publish_placement(
    session: AsyncSession,
    task: Task,
    placement: Placement,
    actor_id: uuid.UUID | None,
    *,
    from_column_id: uuid.UUID,
    moved: bool,
) -> None:
    """work.task.moved (a move) or work.task.updated (a status change in place), and
    work.task.completed when the task was completed."""
    fields = event_fields(task, actor_id)
    if moved:
        await publish_task_event(
            session,
            TaskMoved(**fields, from_column_id=from_column_id),
            task,
        )
    else:
        changed = [c["field"] for c in placement.changes]
        await publish_task_event(session, TaskUpdated(**fields, changed_fields=changed), task)
    if placement.completed:
        assert task.completed_at is not None
        await publish_task_event(
            session, TaskCompleted(**fields, completed_at=task.completed_at), task
        )
