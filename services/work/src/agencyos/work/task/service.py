"""Tasks: create, read, list, edit, delete; dependencies (cycles refused); moves on
the board with fractional ordering; optimistic concurrency. Services never commit: the edge
owns the transaction, so a change, its activity entries and its events commit together.
Subtasks: `subtasks`.

Concurrency. Every task has an integer `version`, bumped by every write of the task (PATCH,
move, subtask changes). A write may name the version it was based on (`expected_version`,
from `If-Match`); a stale one is refused with 409 and the current version. The task row is
locked (SELECT … FOR NO KEY UPDATE, re-read) before its version is compared, so two writes
with the same expected version run one after the other and only the first applies.

Lock order: every write to a project's tasks, comments or board first locks the project row
(FOR NO KEY UPDATE, which task and activity rows can still reference), then columns, then
task rows. So writes within one project run one at a time: none can deadlock with another
(row locks, foreign-key checks and a rebalance of a column never meet in opposite orders),
and a dependency edit's cycle check sees every edge committed before it. Writes are short;
different projects do not wait for each other.

Events. Every write publishes the task as it is now (`work.task.created`, `.updated`,
`.moved`, `.completed`: its due date, position, priority and labels included); a deletion
publishes `work.task.deleted` with the column the card leaves; a move that rebalances its
column publishes each other task it renumbered (`work.task.updated`, `position`, same
version). Each member newly assigned, at creation or by an edit (not those an edit keeps),
gets one `work.task.assigned` naming who assigned them, themselves included. Whoever creates
a task follows it (`followers`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.errors import Conflict, InvalidInput, NotFound, field_error
from agencyos.common.events import TaskCompleted, TaskCreated, TaskDeleted, TaskUpdated
from agencyos.common.pagination import PageParams
from agencyos.common.positions import between
from agencyos.work.audit_log import record_deleted
from agencyos.work.board.repository import column_repository
from agencyos.work.models import BoardColumn, Project, Subtask, Task
from agencyos.work.project.access import visible_project
from agencyos.work.project.defaults import POSITION_STEP
from agencyos.work.task import activity
from agencyos.work.task.permissions import follows_tasks
from agencyos.work.task.placement import (
    DONE,
    event_fields,
    place,
    placement_action,
    publish_assigned,
    publish_placement,
    publish_renumbered,
    publish_task_event,
)
from agencyos.work.task.repository import (
    TaskFilters,
    TaskView,
    follower_repository,
    task_repository,
)
from agencyos.work.task.schemas import (
    SubtaskCreate,
    TaskCreate,
    TaskMove,
    TaskUpdate,
)

# Neighbours closer than this: the column is rebalanced before the task goes between them.


def unique(ids: Iterable[Any]) -> list[Any]:
    return list(dict.fromkeys(ids))


def check_version(task: Task, expected: int | None) -> None:
    """Refuse a write based on another version of the task than the current one."""
    if expected is not None and expected != task.version:
        raise Conflict(
            f"the task has changed: it is at version {task.version}, the request was based on "
            f"version {expected}; reload it and try again",
            extra={"current_version": task.version},
        )


@dataclass
class NewTask:
    """A task to insert, already validated against its project."""

    title: str
    column: BoardColumn
    description: str | None = None
    priority: str = "medium"
    assignee_ids: list[uuid.UUID] = field(default_factory=list)
    due_date: date | None = None
    estimate_hours: Decimal | None = None
    labels: list[str] = field(default_factory=list)
    milestone_id: uuid.UUID | None = None
    visible_to_client: bool = False
    subtasks: list[SubtaskCreate] = field(default_factory=list)
    blocked_by: list[uuid.UUID] = field(default_factory=list)
    # Whoever creates it follows it (not a client user passing on feedback, nor an API key).
    creator_follows: bool = True


class TaskService:
    # --- reading ---------------------------------------------------------------------------

    async def visible_task(
        self, session: AsyncSession, principal: Principal, task_id: uuid.UUID
    ) -> tuple[Task, Project]:
        """The task and its project if the caller may see the project; else NotFound."""
        task = await task_repository.get(session, task_id)
        if task is None:
            raise NotFound("no such task")
        try:
            project = await visible_project(session, principal, task.project_id)
        except NotFound as exc:
            raise NotFound("no such task") from exc
        return task, project

    async def locked_task(
        self,
        session: AsyncSession,
        principal: Principal,
        task_id: uuid.UUID,
        expected_version: int | None,
    ) -> Task:
        """The visible task, locked, at `expected_version` (when given)."""
        task, _ = await self.visible_task(session, principal, task_id)
        await self.lock_project(session, task.project_id)
        return await self.lock(session, task.id, expected_version)

    async def lock_project(self, session: AsyncSession, project_id: uuid.UUID) -> None:
        """The first lock of every task write (see the module docstring)."""
        if not await task_repository.lock_project(session, project_id):
            raise NotFound("no such task")

    async def lock(
        self,
        session: AsyncSession,
        task_id: uuid.UUID,
        expected_version: int | None,
        *,
        for_delete: bool = False,
    ) -> Task:
        task = await task_repository.lock(session, task_id, for_delete=for_delete)
        if task is None:
            raise NotFound("no such task")
        check_version(task, expected_version)
        return task

    async def views(self, session: AsyncSession, tasks: Sequence[Task]) -> list[TaskView]:
        extras = await task_repository.extras(session, [t.id for t in tasks])
        return [TaskView(task=t, extras=extras[t.id]) for t in tasks]

    async def detail(self, session: AsyncSession, task: Task) -> TaskView:
        [view] = await self.views(session, [task])
        view.subtasks = await task_repository.subtasks(session, task.id)
        view.blocking = await task_repository.blocking(session, task.id)
        return view

    async def get(
        self, session: AsyncSession, principal: Principal, task_id: uuid.UUID
    ) -> TaskView:
        task, _ = await self.visible_task(session, principal, task_id)
        return await self.detail(session, task)

    async def list_tasks(
        self,
        session: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        filters: TaskFilters,
        *,
        sort: str,
        params: PageParams,
    ) -> tuple[list[TaskView], int]:
        await visible_project(session, principal, project_id)
        stmt = task_repository.filtered_query(project_id, filters, sort=sort)
        rows, total = await task_repository.paginate(
            session, stmt, page=params.page, per_page=params.per_page
        )
        return await self.views(session, rows), total

    # --- validation against the project ------------------------------------------------------

    async def _check_assignees(
        self, session: AsyncSession, project_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
    ) -> None:
        members = await task_repository.project_members(session, project_id, user_ids)
        strangers = [str(u) for u in user_ids if u not in members]
        if strangers:
            raise field_error(
                "assignee_ids",
                f"assignee_ids must be members of the project; not members: {', '.join(strangers)}",
            )

    async def _check_milestone(
        self, session: AsyncSession, project_id: uuid.UUID, milestone_id: uuid.UUID | None
    ) -> None:
        if milestone_id is not None and not await task_repository.milestone_in_project(
            session, project_id, milestone_id
        ):
            raise field_error("milestone_id", "milestone_id is not a milestone of this project")

    async def _check_blockers(
        self,
        session: AsyncSession,
        project_id: uuid.UUID,
        blocker_ids: Sequence[uuid.UUID],
        task_id: uuid.UUID | None = None,
    ) -> None:
        if task_id is not None and task_id in blocker_ids:
            raise field_error("blocked_by", "a task cannot be blocked by itself")
        found = await task_repository.ids_in_project(session, project_id, blocker_ids)
        unknown = [str(b) for b in blocker_ids if b not in found]
        if unknown:
            raise field_error(
                "blocked_by",
                f"blocked_by must name tasks of the same project; not found there: "
                f"{', '.join(unknown)}",
            )

    async def _target_column(
        self, session: AsyncSession, project_id: uuid.UUID, data: TaskCreate
    ) -> BoardColumn:
        if data.column_id is not None:
            column = await column_repository.get(session, data.column_id)
            if column is None or column.project_id != project_id:
                raise field_error("column_id", "column_id is not a column of this project's board")
            if data.status is not None and data.status.value != column.status:
                raise field_error(
                    "status",
                    f"status {data.status.value!r} differs from the column's ({column.status!r})",
                )
            return column
        status = data.status.value if data.status is not None else None
        column = await column_repository.first_with_status(session, project_id, status)
        if column is None:
            if status is not None:
                raise field_error("status", f"the board has no column with status {status!r}")
            raise Conflict("the project's board has no columns")
        return column

    # --- creating ------------------------------------------------------------------------------

    async def create(
        self,
        session: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        data: TaskCreate,
    ) -> TaskView:
        principal.require("tasks.write")
        project = await visible_project(session, principal, project_id)
        column = await self._target_column(session, project.id, data)
        assignees = unique(data.assignee_ids)
        blockers = unique(data.blocked_by)
        await self._check_assignees(session, project.id, assignees)
        await self._check_milestone(session, project.id, data.milestone_id)
        await self._check_blockers(session, project.id, blockers)
        task = await self.insert(
            session,
            project,
            principal.user_id,
            NewTask(
                title=data.title,
                column=column,
                description=data.description,
                priority=data.priority.value,
                assignee_ids=assignees,
                due_date=data.due_date,
                estimate_hours=data.estimate_hours,
                labels=unique(data.labels),
                milestone_id=data.milestone_id,
                visible_to_client=data.visible_to_client,
                subtasks=data.subtasks,
                blocked_by=blockers,
                creator_follows=follows_tasks(principal),
            ),
        )
        return await self.detail(session, task)

    async def insert(
        self,
        session: AsyncSession,
        project: Project,
        actor_id: uuid.UUID | None,
        new: NewTask,
    ) -> Task:
        """Insert a validated task at the bottom of its column, with its subtasks, blockers,
        `created` activity, work.task.created and one work.task.assigned per assignee; its
        creator (`actor_id`) follows it unless `new.creator_follows` says otherwise."""
        if not await task_repository.lock_project(session, project.id):
            raise NotFound("no such project")
        column = await column_repository.lock_for_tasks(session, new.column.id)
        if column is None or column.project_id != project.id:
            raise field_error("column_id", "column_id is not a column of this project's board")
        last = await task_repository.last_position(session, column.id)
        task = Task(
            tenant_id=project.tenant_id,
            id=uuid.uuid4(),
            project_id=project.id,
            column_id=column.id,
            title=new.title,
            description=new.description,
            status=column.status,
            priority=new.priority,
            assignee_ids=list(new.assignee_ids),
            due_date=new.due_date,
            estimate_hours=new.estimate_hours,
            labels=list(new.labels),
            milestone_id=new.milestone_id,
            visible_to_client=new.visible_to_client,
            position=(last + POSITION_STEP) if last is not None else POSITION_STEP,
            version=1,
            completed_at=utcnow() if column.status == DONE else None,
            created_by=actor_id,
        )
        session.add(task)
        await session.flush()
        for index, item in enumerate(new.subtasks):
            session.add(
                Subtask(
                    tenant_id=task.tenant_id,
                    id=uuid.uuid4(),
                    task_id=task.id,
                    title=item.title,
                    done=item.done,
                    position=index,
                )
            )
        await task_repository.add_blockers(session, task, new.blocked_by)
        if actor_id is not None and new.creator_follows:
            await follower_repository.follow(session, task, actor_id)
        await session.flush()
        initial = {
            "title": task.title,
            "description": task.description,
            "column_id": task.column_id,
            "status": task.status,
            "priority": task.priority,
            "assignee_ids": task.assignee_ids or None,
            "due_date": task.due_date,
            "estimate_hours": task.estimate_hours,
            "labels": task.labels or None,
            "milestone_id": task.milestone_id,
            "visible_to_client": task.visible_to_client or None,
            "completed_at": task.completed_at,
            "blocked_by": sorted(new.blocked_by, key=str) or None,
            "subtasks": [s.title for s in new.subtasks] or None,
        }
        await activity.record(session, task, actor_id, "created", activity.diff({}, initial))
        fields = event_fields(task, actor_id)
        await publish_task_event(session, TaskCreated(**fields), task)
        if task.completed_at is not None:
            await publish_task_event(
                session, TaskCompleted(**fields, completed_at=task.completed_at), task
            )
        await publish_assigned(session, task, list(task.assignee_ids), actor_id)
        return task

    # --- editing -------------------------------------------------------------------------------

    async def update(
        self,
        session: AsyncSession,
        principal: Principal,
        task_id: uuid.UUID,
        data: TaskUpdate,
        *,
        expected_version: int | None,
    ) -> TaskView:
        principal.require("tasks.write")
        found, _ = await self.visible_task(session, principal, task_id)
        await self.lock_project(session, found.project_id)
        sent = data.model_dump(exclude_unset=True)
        task = await self.lock(session, task_id, expected_version)

        old: dict[str, Any] = {name: getattr(task, name) for name in sent if name != "blocked_by"}
        new: dict[str, Any] = dict(sent)
        assignees_added: list[uuid.UUID] = []
        if "assignee_ids" in sent:
            new["assignee_ids"] = unique(data.assignee_ids or [])
            assignees_added = [u for u in new["assignee_ids"] if u not in set(task.assignee_ids)]
            await self._check_assignees(session, task.project_id, assignees_added)
        if "labels" in sent:
            new["labels"] = unique(data.labels or [])
        if "milestone_id" in sent and data.milestone_id != task.milestone_id:
            await self._check_milestone(session, task.project_id, data.milestone_id)
        if "priority" in sent and data.priority is not None:
            new["priority"] = data.priority.value
        if "estimate_hours" in sent:
            new["estimate_hours"] = data.estimate_hours

        blockers_added: list[uuid.UUID] = []
        blockers_removed: list[uuid.UUID] = []
        if "blocked_by" in sent:
            wanted = unique(data.blocked_by or [])
            current = await task_repository.blockers(session, task.id)
            blockers_added = [b for b in wanted if b not in current]
            blockers_removed = [b for b in current if b not in wanted]
            old["blocked_by"] = sorted(current, key=str)
            new["blocked_by"] = sorted(wanted, key=str)
            await self._check_blockers(session, task.project_id, blockers_added, task.id)

        changes = activity.diff(old, new)
        if not changes:
            return await self.detail(session, task)
        for name, value in new.items():
            if name != "blocked_by":
                setattr(task, name, value)
        if blockers_removed:
            await task_repository.remove_blockers(session, task.id, blockers_removed)
        if blockers_added:
            await task_repository.add_blockers(session, task, blockers_added)
            if await task_repository.in_cycle(session, task.id):
                raise field_error(
                    "blocked_by",
                    "blocked_by would create a dependency cycle (a task would end up waiting "
                    "on itself)",
                    "cycle",
                )
        task.version += 1
        await session.flush()
        await activity.record(session, task, principal.user_id, "updated", changes)
        await publish_task_event(
            session,
            TaskUpdated(
                **event_fields(task, principal.user_id),
                changed_fields=[c["field"] for c in changes],
            ),
            task,
        )
        await publish_assigned(session, task, assignees_added, principal.user_id)
        return await self.detail(session, task)

    async def delete(
        self,
        session: AsyncSession,
        principal: Principal,
        task_id: uuid.UUID,
        *,
        expected_version: int | None,
    ) -> None:
        """Delete the task with its subtasks, comments and dependencies; its activity stays
        (with a `deleted` entry) in the project's feed; work.task.deleted goes out with it."""
        principal.require("tasks.write")
        found, _ = await self.visible_task(session, principal, task_id)
        await self.lock_project(session, found.project_id)
        task = await self.lock(session, task_id, expected_version, for_delete=True)
        await activity.record(
            session,
            task,
            principal.user_id,
            "deleted",
            [activity.change("title", task.title, None)],
        )
        await publish_task_event(
            session,
            TaskDeleted(
                task_id=task.id,
                project_id=task.project_id,
                column_id=task.column_id,
                title=task.title,
                visible_to_client=task.visible_to_client,
                actor_id=principal.user_id,
            ),
            task,
        )
        await session.execute(
            delete(Task).where(Task.id == task.id).execution_options(synchronize_session=False)
        )
        session.expunge(task)
        await record_deleted(
            session,
            principal,
            "task",
            task.id,
            {"title": task.title, "status": task.status},
            {"project_id": str(task.project_id)},
        )

    # --- moving ------------------------------------------------------------------------------

    async def _position(
        self,
        session: AsyncSession,
        task: Task,
        column_id: uuid.UUID,
        *,
        before_id: uuid.UUID | None,
        after_id: uuid.UUID | None,
        actor_id: uuid.UUID | None,
    ) -> float:
        """A position between the target's neighbours; when they leave no room the
        column is rebalanced once (the only time a move writes more than the task's row),
        and each other task it renumbered is published with its new position."""
        for _ in range(2):
            try:
                above, below = await task_repository.neighbours(
                    session, column_id, task.id, before_id=before_id, after_id=after_id
                )
            except LookupError as exc:
                # moved away or deleted since it was checked
                name = "before_id" if before_id is not None else "after_id"
                raise field_error(name, f"{name} is not a task of the target column") from exc
            position = between(above, below)
            if position is not None:
                return position
            renumbered = await task_repository.rebalance(session, column_id)
            await session.refresh(task)
            await publish_renumbered(session, [t for t in renumbered if t.id != task.id], actor_id)
        raise RuntimeError("no room between two tasks even after rebalancing")  # pragma: no cover

    async def _check_anchor(
        self,
        session: AsyncSession,
        task: Task,
        anchor_id: uuid.UUID,
        column_id: uuid.UUID,
        name: str,
    ) -> None:
        if anchor_id == task.id:
            raise field_error(name, f"{name} is the task being moved")
        anchor = await task_repository.get(session, anchor_id)
        if anchor is None or anchor.column_id != column_id:
            raise field_error(name, f"{name} is not a task of the target column")

    async def move(
        self,
        session: AsyncSession,
        principal: Principal,
        task_id: uuid.UUID,
        data: TaskMove,
        *,
        expected_version: int | None,
    ) -> TaskView:
        principal.require("tasks.write")
        if data.before_id is not None and data.after_id is not None:
            message = "send at most one of before_id and after_id"
            raise InvalidInput(
                message,
                errors=[
                    {"field": f, "message": message, "type": "one_of"}
                    for f in ("before_id", "after_id")
                ],
            )
        found, _ = await self.visible_task(session, principal, task_id)
        # Lock order: the project, the target column, then the task (module docstring).
        await self.lock_project(session, found.project_id)
        column = await column_repository.lock_for_tasks(session, data.column_id)
        if column is None or column.project_id != found.project_id:
            raise field_error("column_id", "column_id is not a column of the task's board")
        task = await self.lock(session, task_id, expected_version)
        if data.before_id is not None:
            await self._check_anchor(session, task, data.before_id, column.id, "before_id")
        if data.after_id is not None:
            await self._check_anchor(session, task, data.after_id, column.id, "after_id")

        from_column_id = task.column_id
        position = await self._position(
            session,
            task,
            column.id,
            before_id=data.before_id,
            after_id=data.after_id,
            actor_id=principal.user_id,
        )
        placement = place(task, column, position)
        task.version += 1
        await session.flush()
        await activity.record(
            session,
            task,
            principal.user_id,
            placement_action(placement, "moved"),
            placement.changes,
        )
        await publish_placement(
            session, task, placement, principal.user_id, from_column_id=from_column_id, moved=True
        )
        return await self.detail(session, task)


task_service = TaskService()
