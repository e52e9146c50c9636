"""All SQL for tasks and what hangs off them: subtasks, dependencies, comments, followers,
activity.
Row-level security scopes every query to the transaction's agency."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    text,
    tuple_,
    update,
)
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.work.models import (
    BoardColumn,
    Comment,
    Milestone,
    Project,
    ProjectMember,
    Subtask,
    Task,
    TaskActivity,
    TaskDependency,
    TaskFollower,
)
from agencyos.work.project.defaults import POSITION_STEP
from agencyos.work.project.repository import like_pattern

_PRIORITY_RANK = case({"low": 0, "medium": 1, "high": 2, "urgent": 3}, value=Task.priority, else_=1)

_SORTS: dict[str, Any] = {
    "created_at": Task.created_at,
    "updated_at": Task.updated_at,
    "due_date": Task.due_date,
    "priority": _PRIORITY_RANK,
    "title": func.lower(Task.title),
}


@dataclass(frozen=True)
class TaskFilters:
    assignee_id: uuid.UUID | None = None
    status: str | None = None
    priority: str | None = None
    due_before: date | None = None
    due_after: date | None = None
    label: str | None = None
    milestone_id: uuid.UUID | None = None
    column_id: uuid.UUID | None = None
    visible_to_client: bool | None = None
    q: str | None = None


@dataclass
class TaskExtras:
    """What a task's read model adds to its row."""

    subtasks_total: int = 0
    subtasks_done: int = 0
    blocked_by: list[uuid.UUID] = field(default_factory=list)


@dataclass
class TaskView:
    """A task with its read model: counts and blockers always; the checklist and the tasks it
    blocks for the detail view."""

    task: Task
    extras: TaskExtras
    subtasks: list[Subtask] = field(default_factory=list)
    blocking: list[uuid.UUID] = field(default_factory=list)


class TaskRepository(Repository[Task]):
    model = Task

    async def lock_project(self, session: AsyncSession, project_id: uuid.UUID) -> bool:
        """The first lock of every write to a project's board, tasks and comments: the project
        row FOR NO KEY UPDATE (task and activity rows may still reference it). Writes within
        one project run one at a time, so no two of them can lock rows in opposite orders;
        False when the project is gone."""
        stmt = select(Project.id).where(Project.id == project_id).with_for_update(key_share=True)
        return (await session.execute(stmt)).first() is not None

    async def lock(
        self, session: AsyncSession, task_id: uuid.UUID, *, for_delete: bool = False
    ) -> Task | None:
        """The task row, locked and re-read (so a version another transaction just committed
        is the one we compare with). FOR NO KEY UPDATE serializes the task's writers while
        rows that reference it (comments, dependencies) can still be added; FOR UPDATE to
        delete it."""
        stmt = (
            select(Task)
            .where(Task.id == task_id)
            .with_for_update(key_share=not for_delete)
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def share_lock(self, session: AsyncSession, task_id: uuid.UUID) -> Task | None:
        """The task row with a FOR KEY SHARE lock: it cannot be deleted until the transaction
        ends, while its fields stay writable by others."""
        stmt = (
            select(Task)
            .where(Task.id == task_id)
            .with_for_update(read=True, key_share=True)
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def lock_in_column(self, session: AsyncSession, column_id: uuid.UUID) -> list[Task]:
        stmt = (
            select(Task)
            .where(Task.column_id == column_id)
            .order_by(Task.id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
        tasks = (await session.execute(stmt)).scalars().all()
        return sorted(tasks, key=lambda t: (t.position, t.id))

    async def ids_in_project(
        self, session: AsyncSession, project_id: uuid.UUID, task_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        if not task_ids:
            return set()
        stmt = select(Task.id).where(Task.project_id == project_id, Task.id.in_(task_ids))
        return set((await session.execute(stmt)).scalars())

    async def milestone_in_project(
        self, session: AsyncSession, project_id: uuid.UUID, milestone_id: uuid.UUID
    ) -> bool:
        stmt = select(Milestone.id).where(
            Milestone.id == milestone_id, Milestone.project_id == project_id
        )
        return (await session.execute(stmt)).first() is not None

    async def project_members(
        self, session: AsyncSession, project_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
    ) -> set[uuid.UUID]:
        """Those of `user_ids` who are members of the project."""
        if not user_ids:
            return set()
        stmt = select(ProjectMember.user_id).where(
            ProjectMember.project_id == project_id, ProjectMember.user_id.in_(user_ids)
        )
        return set((await session.execute(stmt)).scalars())

    # --- order within a column -----------------------------------------------------------

    async def last_position(
        self, session: AsyncSession, column_id: uuid.UUID, *, excluding: uuid.UUID | None = None
    ) -> float | None:
        stmt = select(func.max(Task.position)).where(Task.column_id == column_id)
        if excluding is not None:
            stmt = stmt.where(Task.id != excluding)
        value = (await session.execute(stmt)).scalar_one_or_none()
        return float(value) if value is not None else None

    async def neighbours(
        self,
        session: AsyncSession,
        column_id: uuid.UUID,
        moving_id: uuid.UUID,
        *,
        before_id: uuid.UUID | None = None,
        after_id: uuid.UUID | None = None,
    ) -> tuple[float | None, float | None]:
        """The positions just above and just below where the moving task goes in the column
        (None: the column's edge). `before_id`/`after_id` name a task of the column to go right
        above/below (LookupError when it is not there); neither: the bottom. Ties in position
        are broken by id."""
        others = select(Task.position).where(Task.column_id == column_id, Task.id != moving_id)
        key = tuple_(Task.position, Task.id)
        anchor_id = before_id or after_id
        if anchor_id is None:
            return await self.last_position(session, column_id, excluding=moving_id), None
        anchor_position = (
            await session.execute(
                select(Task.position).where(Task.id == anchor_id, Task.column_id == column_id)
            )
        ).scalar_one_or_none()
        if anchor_position is None:
            raise LookupError("the anchor task is not in the column")
        anchor = tuple_(literal(anchor_position), literal(anchor_id))
        if before_id is not None:
            above = await session.execute(
                others.where(key < anchor).order_by(Task.position.desc(), Task.id.desc()).limit(1)
            )
            return above.scalar_one_or_none(), anchor_position
        below = await session.execute(
            others.where(key > anchor).order_by(Task.position, Task.id).limit(1)
        )
        return anchor_position, below.scalar_one_or_none()

    async def rebalance(self, session: AsyncSession, column_id: uuid.UUID) -> list[Task]:
        """Spread the column's positions out again (POSITION_STEP apart), keeping its order;
        the tasks whose position changed, re-read. Versions are not bumped: the order the
        users see does not change."""
        ranked = (
            select(
                Task.tenant_id,
                Task.id,
                func.row_number().over(order_by=(Task.position, Task.id)).label("rank"),
            )
            .where(Task.column_id == column_id)
            .subquery()
        )
        result = await session.execute(
            update(Task)
            .where(
                Task.tenant_id == ranked.c.tenant_id,
                Task.id == ranked.c.id,
                # re-checked on rows a concurrent move changed: one that left stays out
                Task.column_id == column_id,
                Task.position != ranked.c.rank * POSITION_STEP,
            )
            .values(position=ranked.c.rank * POSITION_STEP)
            .returning(Task.id)
            .execution_options(synchronize_session=False)
        )
        renumbered = list(result.scalars())
        if not renumbered:
            return []
        return list(
            await session.scalars(
                select(Task)
                .where(Task.id.in_(renumbered))
                .order_by(Task.position, Task.id)
                .execution_options(populate_existing=True)
            )
        )

    # --- reading ---------------------------------------------------------------------------

    def filtered_query(
        self, project_id: uuid.UUID, filters: TaskFilters, *, sort: str = "board"
    ) -> Select[Any]:
        stmt = select(Task).where(Task.project_id == project_id)
        if filters.assignee_id is not None:
            stmt = stmt.where(Task.assignee_ids.contains([filters.assignee_id]))
        if filters.status is not None:
            stmt = stmt.where(Task.status == filters.status)
        if filters.priority is not None:
            stmt = stmt.where(Task.priority == filters.priority)
        if filters.due_before is not None:
            stmt = stmt.where(Task.due_date <= filters.due_before)
        if filters.due_after is not None:
            stmt = stmt.where(Task.due_date >= filters.due_after)
        if filters.label is not None:
            stmt = stmt.where(Task.labels.contains([filters.label]))
        if filters.milestone_id is not None:
            stmt = stmt.where(Task.milestone_id == filters.milestone_id)
        if filters.column_id is not None:
            stmt = stmt.where(Task.column_id == filters.column_id)
        if filters.visible_to_client is not None:
            stmt = stmt.where(Task.visible_to_client.is_(filters.visible_to_client))
        if filters.q:
            pattern = like_pattern(filters.q)
            stmt = stmt.where(
                or_(
                    Task.title.ilike(pattern, escape="\\"),
                    Task.description.ilike(pattern, escape="\\"),
                )
            )
        if sort == "board":
            stmt = stmt.join(
                BoardColumn,
                and_(BoardColumn.tenant_id == Task.tenant_id, BoardColumn.id == Task.column_id),
            )
            return stmt.order_by(BoardColumn.position, Task.position, Task.id)
        descending = sort.startswith("-")
        column = _SORTS[sort.lstrip("-")]
        order = column.desc().nulls_last() if descending else column.asc().nulls_last()
        tie = Task.id.desc() if descending else Task.id.asc()
        return stmt.order_by(order, tie)

    async def by_ids(
        self,
        session: AsyncSession,
        task_ids: Sequence[uuid.UUID],
        *,
        visible_to: uuid.UUID | None = None,
        client_id: uuid.UUID | None = None,
    ) -> list[Task]:
        """The tasks among `task_ids`. `visible_to`: only tasks of projects that user is a
        member of; `client_id`: only client-visible tasks of that client's projects."""
        stmt = select(Task).where(Task.id.in_(task_ids))
        if visible_to is not None:
            stmt = stmt.where(
                select(ProjectMember.user_id)
                .where(
                    ProjectMember.project_id == Task.project_id,
                    ProjectMember.user_id == visible_to,
                )
                .exists()
            )
        if client_id is not None:
            stmt = stmt.where(
                Task.visible_to_client.is_(True),
                select(Project.id)
                .where(Project.id == Task.project_id, Project.client_id == client_id)
                .exists(),
            )
        return list((await session.execute(stmt.order_by(Task.id))).scalars())

    async def all_of(self, session: AsyncSession, stmt: Select[Any]) -> list[Task]:
        return list((await session.execute(stmt)).scalars())

    async def extras(
        self, session: AsyncSession, task_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, TaskExtras]:
        """Subtask counts and blockers for many tasks, in two queries."""
        extras = {task_id: TaskExtras() for task_id in task_ids}
        if not extras:
            return extras
        counts = await session.execute(
            select(Subtask.task_id, func.count(), func.count().filter(Subtask.done))
            .where(Subtask.task_id.in_(extras))
            .group_by(Subtask.task_id)
        )
        for task_id, total, done in counts.all():
            extras[task_id].subtasks_total = int(total)
            extras[task_id].subtasks_done = int(done)
        deps = await session.execute(
            select(TaskDependency.task_id, TaskDependency.blocked_by_id)
            .where(TaskDependency.task_id.in_(extras))
            .order_by(TaskDependency.task_id, TaskDependency.blocked_by_id)
        )
        for task_id, blocker in deps.all():
            extras[task_id].blocked_by.append(blocker)
        return extras

    async def subtasks(self, session: AsyncSession, task_id: uuid.UUID) -> list[Subtask]:
        stmt = (
            select(Subtask)
            .where(Subtask.task_id == task_id)
            .order_by(Subtask.position, Subtask.created_at, Subtask.id)
        )
        return list((await session.execute(stmt)).scalars())

    async def get_subtask(self, session: AsyncSession, subtask_id: uuid.UUID) -> Subtask | None:
        stmt = select(Subtask).where(Subtask.id == subtask_id)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def next_subtask_position(self, session: AsyncSession, task_id: uuid.UUID) -> int:
        stmt = select(func.coalesce(func.max(Subtask.position) + 1, 0)).where(
            Subtask.task_id == task_id
        )
        return int((await session.execute(stmt)).scalar_one())

    # --- dependencies ----------------------------------------------------------------------

    async def blockers(self, session: AsyncSession, task_id: uuid.UUID) -> list[uuid.UUID]:
        stmt = (
            select(TaskDependency.blocked_by_id)
            .where(TaskDependency.task_id == task_id)
            .order_by(TaskDependency.blocked_by_id)
        )
        return list((await session.execute(stmt)).scalars())

    async def blocking(self, session: AsyncSession, task_id: uuid.UUID) -> list[uuid.UUID]:
        stmt = (
            select(TaskDependency.task_id)
            .where(TaskDependency.blocked_by_id == task_id)
            .order_by(TaskDependency.task_id)
        )
        return list((await session.execute(stmt)).scalars())

    async def add_blockers(
        self, session: AsyncSession, task: Task, blocker_ids: Sequence[uuid.UUID]
    ) -> None:
        if not blocker_ids:
            return
        await session.execute(
            insert(TaskDependency)
            .values(
                [
                    {
                        "tenant_id": task.tenant_id,
                        "task_id": task.id,
                        "blocked_by_id": blocker,
                        "project_id": task.project_id,
                    }
                    for blocker in blocker_ids
                ]
            )
            .on_conflict_do_nothing()
        )

    async def remove_blockers(
        self, session: AsyncSession, task_id: uuid.UUID, blocker_ids: Sequence[uuid.UUID]
    ) -> None:
        if not blocker_ids:
            return
        await session.execute(
            delete(TaskDependency).where(
                TaskDependency.task_id == task_id, TaskDependency.blocked_by_id.in_(blocker_ids)
            )
        )

    async def in_cycle(self, session: AsyncSession, task_id: uuid.UUID) -> bool:
        """Whether the task can reach itself through `blocked_by` edges (a recursive CTE over
        task_dependencies, seeing this transaction's own inserts; the project lock keeps any
        other edit of the project's dependencies out until this transaction ends)."""
        stmt = text(
            """
            WITH RECURSIVE chain(id) AS (
                SELECT blocked_by_id FROM task_dependencies WHERE task_id = :task_id
                UNION
                SELECT d.blocked_by_id
                FROM task_dependencies d JOIN chain c ON d.task_id = c.id
            )
            SELECT EXISTS (SELECT 1 FROM chain WHERE id = :task_id)
            """
        )
        return bool((await session.execute(stmt, {"task_id": task_id})).scalar())


class CommentRepository(Repository[Comment]):
    model = Comment

    def of_task(self, task_id: uuid.UUID, *, client_only: bool = False) -> Select[Any]:
        """The task's comments, oldest first (`client_only`: the client-visible ones)."""
        stmt = select(Comment).where(Comment.task_id == task_id)
        if client_only:
            stmt = stmt.where(Comment.visibility == "client")
        return stmt.order_by(Comment.created_at, Comment.id)

    async def latest_client_visible(
        self, session: AsyncSession, task_id: uuid.UUID, limit: int
    ) -> list[Comment]:
        """The task's latest `limit` client-visible comments, oldest first."""
        stmt = (
            select(Comment)
            .where(Comment.task_id == task_id, Comment.visibility == "client")
            .order_by(Comment.created_at.desc(), Comment.id.desc())
            .limit(limit)
        )
        return list(reversed((await session.execute(stmt)).scalars().all()))

    async def lock(self, session: AsyncSession, comment_id: uuid.UUID) -> Comment | None:
        stmt = (
            select(Comment)
            .where(Comment.id == comment_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one_or_none()


class FollowerRepository(Repository[TaskFollower]):
    model = TaskFollower

    def of_task(self, task_id: uuid.UUID) -> Select[Any]:
        return (
            select(TaskFollower)
            .where(TaskFollower.task_id == task_id)
            .order_by(TaskFollower.followed_at, TaskFollower.user_id)
        )

    async def follower_ids(self, session: AsyncSession, task_id: uuid.UUID) -> list[uuid.UUID]:
        """Who follows the task, longest-standing first."""
        stmt = self.of_task(task_id).with_only_columns(TaskFollower.user_id)
        return list((await session.execute(stmt)).scalars())

    async def follow(self, session: AsyncSession, task: Task, user_id: uuid.UUID) -> TaskFollower:
        """The member's follow of the task: added now, or the one they already had."""
        await session.execute(
            insert(TaskFollower)
            .values(tenant_id=task.tenant_id, task_id=task.id, user_id=user_id)
            .on_conflict_do_nothing()
        )
        stmt = (
            select(TaskFollower)
            .where(TaskFollower.task_id == task.id, TaskFollower.user_id == user_id)
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one()

    async def unfollow(self, session: AsyncSession, task_id: uuid.UUID, user_id: uuid.UUID) -> None:
        await session.execute(
            delete(TaskFollower)
            .where(TaskFollower.task_id == task_id, TaskFollower.user_id == user_id)
            .execution_options(synchronize_session=False)
        )


class ActivityRepository(Repository[TaskActivity]):
    model = TaskActivity

    def of_task(self, task_id: uuid.UUID) -> Select[Any]:
        return (
            select(TaskActivity)
            .where(TaskActivity.task_id == task_id)
            .order_by(TaskActivity.occurred_at.desc(), TaskActivity.id.desc())
        )

    def of_project(self, project_id: uuid.UUID) -> Select[Any]:
        return (
            select(TaskActivity)
            .where(TaskActivity.project_id == project_id)
            .order_by(TaskActivity.occurred_at.desc(), TaskActivity.id.desc())
        )


task_repository = TaskRepository()
comment_repository = CommentRepository()
follower_repository = FollowerRepository()
activity_repository = ActivityRepository()
