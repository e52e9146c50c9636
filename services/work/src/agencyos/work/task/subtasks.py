"""Subtasks: a task's checklist. Each change locks the task (as every task write does, see
`service`), bumps its version, is recorded in the task's activity and publishes
`work.task.updated` naming `subtasks`."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import NotFound
from agencyos.common.events import TaskUpdated
from agencyos.work.audit_log import record_deleted
from agencyos.work.models import Subtask, Task
from agencyos.work.task import activity
from agencyos.work.task.placement import event_fields, publish_task_event
from agencyos.work.task.repository import task_repository
from agencyos.work.task.schemas import SubtaskCreate, SubtaskUpdate
from agencyos.work.task.service import task_service


class SubtaskService:
    async def _subtask_changed(
        self,
        session: AsyncSession,
        task: Task,
        actor_id: uuid.UUID,
        action: str,
        old: Subtask | dict[str, Any] | None,
        new: Subtask | None,
    ) -> None:
        """Bump the task's version, log the change and publish work.task.updated."""

        def snapshot(s: Subtask | dict[str, Any] | None) -> dict[str, Any] | None:
            if s is None or isinstance(s, dict):
                return s
            return {"id": str(s.id), "title": s.title, "done": s.done}

        task.version += 1
        await session.flush()
        await activity.record(
            session,
            task,
            actor_id,
            action,
            [{"field": "subtask", "old": snapshot(old), "new": snapshot(new)}],
        )
        await publish_task_event(
            session,
            TaskUpdated(**event_fields(task, actor_id), changed_fields=["subtasks"]),
            task,
        )

    async def add_subtask(
        self,
        session: AsyncSession,
        principal: Principal,
        task_id: uuid.UUID,
        data: SubtaskCreate,
    ) -> tuple[Subtask, Task]:
        principal.require("tasks.write")
        task = await task_service.locked_task(session, principal, task_id, None)
        subtask = Subtask(
            tenant_id=task.tenant_id,
            id=uuid.uuid4(),
            task_id=task.id,
            title=data.title,
            done=data.done,
            position=await task_repository.next_subtask_position(session, task.id),
        )
        session.add(subtask)
        await session.flush()
        await self._subtask_changed(
            session, task, principal.user_id, "subtask_added", None, subtask
        )
        return subtask, task

    async def _locked_subtask(
        self, session: AsyncSession, principal: Principal, subtask_id: uuid.UUID
    ) -> tuple[Subtask, Task]:
        subtask = await task_repository.get_subtask(session, subtask_id)
        if subtask is None:
            raise NotFound("no such subtask")
        try:
            task = await task_service.locked_task(session, principal, subtask.task_id, None)
        except NotFound as exc:
            raise NotFound("no such subtask") from exc
        await session.refresh(subtask)
        return subtask, task

    async def update_subtask(
        self,
        session: AsyncSession,
        principal: Principal,
        subtask_id: uuid.UUID,
        data: SubtaskUpdate,
    ) -> tuple[Subtask, Task]:
        principal.require("tasks.write")
        subtask, task = await self._locked_subtask(session, principal, subtask_id)
        before = {"id": str(subtask.id), "title": subtask.title, "done": subtask.done}
        sent = data.model_dump(exclude_unset=True)
        if all(getattr(subtask, k) == v for k, v in sent.items()):
            return subtask, task
        for name, value in sent.items():
            setattr(subtask, name, value)
        await session.flush()
        await self._subtask_changed(
            session, task, principal.user_id, "subtask_updated", before, subtask
        )
        return subtask, task

    async def delete_subtask(
        self, session: AsyncSession, principal: Principal, subtask_id: uuid.UUID
    ) -> Task:
        principal.require("tasks.write")
        subtask, task = await self._locked_subtask(session, principal, subtask_id)
        before = {"id": str(subtask.id), "title": subtask.title, "done": subtask.done}
        await session.delete(subtask)
        await session.flush()
        await self._subtask_changed(
            session, task, principal.user_id, "subtask_removed", before, None
        )
        await record_deleted(
            session,
            principal,
            "subtask",
            subtask.id,
            {"title": subtask.title, "done": subtask.done},
            {"task_id": str(task.id), "project_id": str(task.project_id)},
        )
        return task


subtask_service = SubtaskService()
