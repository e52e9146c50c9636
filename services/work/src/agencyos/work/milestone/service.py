"""Milestones: create, read, list, update, delete, and completion with its event.

Completing publishes `work.milestone.completed` in the same transaction, once per completion:
the row is locked, and completing a completed milestone is refused (409). A completed
milestone may be reopened (`status: open`). Work cannot know whether billing has already
invoiced the milestone, so it does not stop a reopen; billing keys its milestone lines by
`milestone_id` and must not bill a milestone twice when it is completed again.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.errors import Conflict, NotFound, field_error
from agencyos.common.events import MilestoneCompleted
from agencyos.common.outbox import publish
from agencyos.common.pagination import PageParams
from agencyos.work.audit_log import record_deleted
from agencyos.work.milestone.repository import milestone_repository
from agencyos.work.milestone.schemas import MilestoneCreate, MilestoneUpdate
from agencyos.work.models import Milestone, Project
from agencyos.work.project.access import visible_project

SERVICE = "work"


@dataclass(frozen=True)
class MilestoneView:
    milestone: Milestone
    project: Project


class MilestoneService:
    async def _visible(
        self,
        session: AsyncSession,
        principal: Principal,
        milestone_id: uuid.UUID,
        *,
        lock: bool = False,
        for_delete: bool = False,
    ) -> MilestoneView:
        """The milestone (locked when asked) if its project is visible to the caller."""
        if lock:
            milestone = await milestone_repository.lock(
                session, milestone_id, for_delete=for_delete
            )
        else:
            milestone = await milestone_repository.get(session, milestone_id)
        if milestone is None:
            raise NotFound("no such milestone")
        try:
            project = await visible_project(session, principal, milestone.project_id)
        except NotFound as exc:
            raise NotFound("no such milestone") from exc
        return MilestoneView(milestone, project)

    async def create(
        self,
        session: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        data: MilestoneCreate,
    ) -> MilestoneView:
        principal.require("projects.write")
        project = await visible_project(session, principal, project_id)
        milestone = Milestone(
            tenant_id=principal.tenant_id,
            id=uuid.uuid4(),
            project_id=project.id,
            name=data.name,
            due_date=data.due_date,
            amount_cents=data.amount_cents,
            status="open",
        )
        await milestone_repository.create(session, milestone)
        return MilestoneView(milestone, project)

    async def get(
        self, session: AsyncSession, principal: Principal, milestone_id: uuid.UUID
    ) -> MilestoneView:
        return await self._visible(session, principal, milestone_id)

    async def list_milestones(
        self,
        session: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        params: PageParams,
        *,
        status: str | None = None,
        sort: str = "due_date",
    ) -> tuple[Project, Sequence[Milestone], int]:
        project = await visible_project(session, principal, project_id)
        stmt = milestone_repository.of_project(project.id, status=status, sort=sort)
        items, total = await milestone_repository.paginate(
            session, stmt, page=params.page, per_page=params.per_page
        )
        return project, items, total

    async def update(
        self,
        session: AsyncSession,
        principal: Principal,
        milestone_id: uuid.UUID,
        data: MilestoneUpdate,
    ) -> MilestoneView:
        principal.require("projects.write")
        view = await self._visible(session, principal, milestone_id, lock=True)
        milestone = view.milestone
        sent: dict[str, Any] = data.model_dump(exclude_unset=True)
        for required in ("name", "status"):
            if required in sent and sent[required] is None:
                raise field_error(required, f"{required} cannot be null")
        status = sent.pop("status", None)
        changes = {k: v for k, v in sent.items() if getattr(milestone, k) != v}
        if changes:
            await milestone_repository.update(session, milestone, changes)
        if status is not None and str(status) != milestone.status:
            if str(status) == "completed":
                await self._complete(session, view)
            else:
                # Reopen: billing dedupes by milestone id if it was already invoiced.
                await milestone_repository.update(
                    session, milestone, {"status": "open", "completed_at": None}
                )
        return view

    async def complete(
        self, session: AsyncSession, principal: Principal, milestone_id: uuid.UUID
    ) -> MilestoneView:
        principal.require("projects.write")
        view = await self._visible(session, principal, milestone_id, lock=True)
        if view.milestone.status == "completed":
            raise Conflict("the milestone is already completed")
        await self._complete(session, view)
        return view

    async def _complete(self, session: AsyncSession, view: MilestoneView) -> None:
        """Complete a locked open milestone and publish its event in this transaction."""
        milestone, project = view.milestone, view.project
        completed_at = utcnow()
        await milestone_repository.update(
            session, milestone, {"status": "completed", "completed_at": completed_at}
        )
        await publish(
            session,
            MilestoneCompleted(
                milestone_id=milestone.id,
                project_id=project.id,
                client_id=project.client_id,
                name=milestone.name,
                amount_cents=milestone.amount_cents,
                currency=project.currency,
                completed_at=completed_at,
            ),
            source_service=SERVICE,
            subject=f"milestones/{milestone.id}",
        )

    async def delete(
        self, session: AsyncSession, principal: Principal, milestone_id: uuid.UUID
    ) -> None:
        """Only an open milestone that no task points at (409 otherwise): a completed one may
        already be billed, and tasks would lose their milestone silently."""
        principal.require("projects.write")
        view = await self._visible(session, principal, milestone_id, lock=True, for_delete=True)
        milestone = view.milestone
        if milestone.status != "open":
            raise Conflict("only an open milestone can be deleted")
        if await milestone_repository.has_tasks(session, milestone.id):
            raise Conflict("tasks point at this milestone: move them off it first")
        try:
            async with session.begin_nested():
                await session.delete(milestone)
                await session.flush()
        except IntegrityError as exc:
            # A task pointing at it slipped in between the check and the delete.
            raise Conflict("tasks point at this milestone: move them off it first") from exc
        await record_deleted(
            session,
            principal,
            "milestone",
            milestone.id,
            {
                "name": milestone.name,
                "status": milestone.status,
                "amount_cents": milestone.amount_cents,
            },
            {"project_id": str(milestone.project_id)},
        )


milestone_service = MilestoneService()
