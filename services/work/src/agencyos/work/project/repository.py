"""All SQL for projects and their members. Row-level security scopes every query to the
transaction's agency; visibility within the agency (members see only their projects) is a
filter applied here on the service's request."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, delete, exists, func, select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.common.events import ProjectState
from agencyos.work.models import Project, ProjectMember, Task, TaskFollower

_SORTS: dict[str, Any] = {
    "name": func.lower(Project.name),
    "created_at": Project.created_at,
    "deadline": Project.deadline,
}


def like_pattern(q: str) -> str:
    """A substring pattern for ILIKE with the caller's wildcards taken literally."""
    escaped = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


@dataclass
class ProjectView:
    """A project with what its read model adds: task counts and members."""

    project: Project
    task_count: int = 0
    done_task_count: int = 0
    members: list[ProjectMember] = field(default_factory=list)

    @property
    def progress(self) -> int:
        """Done tasks over all tasks, in whole percent (rounded down; 0 without tasks)."""
        if not self.task_count:
            return 0
        return self.done_task_count * 100 // self.task_count

    @property
    def member_ids(self) -> list[uuid.UUID]:
        return [m.user_id for m in self.members]


def _is_member(user_id: uuid.UUID) -> Any:
    return exists().where(ProjectMember.project_id == Project.id, ProjectMember.user_id == user_id)


class ProjectRepository(Repository[Project]):
    model = Project

    def filtered_query(
        self,
        *,
        visible_to: uuid.UUID | None = None,
        client_id: uuid.UUID | None = None,
        deal_id: uuid.UUID | None = None,
        status: str | None = None,
        member_id: uuid.UUID | None = None,
        q: str | None = None,
        sort: str = "-created_at",
    ) -> Select[Any]:
        """The projects list as a query. `visible_to`: only projects that user is a member of
        (None: all of the agency's). The sort has `id` as tie-breaker."""
        stmt = select(Project)
        if visible_to is not None:
            stmt = stmt.where(_is_member(visible_to))
        if member_id is not None:
            stmt = stmt.where(_is_member(member_id))
        if client_id is not None:
            stmt = stmt.where(Project.client_id == client_id)
        if deal_id is not None:
            stmt = stmt.where(Project.deal_id == deal_id)
        if status is not None:
            stmt = stmt.where(Project.status == status)
        if q:
            stmt = stmt.where(Project.name.ilike(like_pattern(q), escape="\\"))
        descending = sort.startswith("-")
        column = _SORTS[sort.lstrip("-")]
        order = column.desc().nulls_last() if descending else column.asc().nulls_last()
        tie = Project.id.desc() if descending else Project.id.asc()
        return stmt.order_by(order, tie)

    async def get_for_update(self, session: AsyncSession, project_id: uuid.UUID) -> Project | None:
        stmt = select(Project).where(Project.id == project_id).with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()

    async def by_ids(
        self,
        session: AsyncSession,
        project_ids: Sequence[uuid.UUID],
        *,
        visible_to: uuid.UUID | None = None,
        client_id: uuid.UUID | None = None,
    ) -> list[Project]:
        stmt = select(Project).where(Project.id.in_(project_ids))
        if visible_to is not None:
            stmt = stmt.where(_is_member(visible_to))
        if client_id is not None:
            stmt = stmt.where(Project.client_id == client_id)
        return list(
            (await session.execute(stmt.order_by(Project.created_at, Project.id))).scalars()
        )

    async def of_client(self, session: AsyncSession, client_id: uuid.UUID) -> list[Project]:
        stmt = (
            select(Project)
            .where(Project.client_id == client_id)
            .order_by(Project.created_at, Project.id)
        )
        return list((await session.execute(stmt)).scalars())

    async def views(self, session: AsyncSession, projects: Sequence[Project]) -> list[ProjectView]:
        """The projects with their task counts and members, in two queries for any number."""
        views = {p.id: ProjectView(p) for p in projects}
        if not views:
            return []
        counts = await session.execute(
            select(
                Task.project_id,
                func.count(),
                func.count().filter(Task.status == "done"),
            )
            .where(Task.project_id.in_(views))
            .group_by(Task.project_id)
        )
        for project_id, total, done in counts:
            views[project_id].task_count = int(total)
            views[project_id].done_task_count = int(done)
        members = await session.execute(
            select(ProjectMember)
            .where(ProjectMember.project_id.in_(views))
            .order_by(ProjectMember.added_at, ProjectMember.user_id)
        )
        for member in members.scalars():
            views[member.project_id].members.append(member)
        return [views[p.id] for p in projects]

    async def view(self, session: AsyncSession, project: Project) -> ProjectView:
        [view] = await self.views(session, [project])
        return view

    async def state(self, session: AsyncSession, project: Project) -> ProjectState:
        """The project as its events tell it to other services (time's read model)."""
        member_ids = (
            await session.execute(
                select(ProjectMember.user_id)
                .where(ProjectMember.project_id == project.id)
                .order_by(ProjectMember.user_id)
            )
        ).scalars()
        return ProjectState(
            name=project.name,
            client_id=project.client_id,
            status=project.status,
            billing_type=project.billing_type,
            hourly_rate_cents=project.hourly_rate_cents,
            currency=project.currency,
            member_ids=list(member_ids),
            changed_at=datetime.now(UTC),
        )

    async def members(self, session: AsyncSession, project_id: uuid.UUID) -> list[ProjectMember]:
        stmt = (
            select(ProjectMember)
            .where(ProjectMember.project_id == project_id)
            .order_by(ProjectMember.added_at, ProjectMember.user_id)
        )
        return list((await session.execute(stmt)).scalars())

    async def add_member(
        self,
        session: AsyncSession,
        project: Project,
        user_id: uuid.UUID,
        added_by: uuid.UUID | None,
    ) -> bool:
        """Add the member; False when they already were one."""
        stmt = (
            insert(ProjectMember)
            .values(
                tenant_id=project.tenant_id,
                project_id=project.id,
                user_id=user_id,
                added_by=added_by,
            )
            .on_conflict_do_nothing()
            .returning(ProjectMember.user_id)
        )
        return (await session.execute(stmt)).first() is not None

    async def remove_member(
        self, session: AsyncSession, project_id: uuid.UUID, user_id: uuid.UUID
    ) -> bool:
        stmt = (
            delete(ProjectMember)
            .where(ProjectMember.project_id == project_id, ProjectMember.user_id == user_id)
            .returning(ProjectMember.user_id)
        )
        return (await session.execute(stmt)).first() is not None

    async def drop_task_follows(
        self, session: AsyncSession, project_id: uuid.UUID, user_id: uuid.UUID
    ) -> None:
        """A member who leaves a project stops following its tasks: a member sees only the
        projects they are on, so a comment must not reach them from one they left."""
        await session.execute(
            delete(TaskFollower)
            .where(
                TaskFollower.user_id == user_id,
                TaskFollower.task_id.in_(select(Task.id).where(Task.project_id == project_id)),
            )
            .execution_options(synchronize_session=False)
        )


project_repository = ProjectRepository()
