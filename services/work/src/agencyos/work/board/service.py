"""A project's board: its ordered columns, each mapped to a task status, with the tasks in
column order. Column changes lock the project row first, like every write in task.service
(then every column of the board, then tasks), so they never interleave with another write to
the same project."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import Conflict, NotFound, field_error
from agencyos.work.audit_log import record_deleted
from agencyos.work.board.repository import column_repository
from agencyos.work.board.schemas import ColumnCreate, ColumnUpdate
from agencyos.work.models import BoardColumn, Project
from agencyos.work.project.access import visible_project
from agencyos.work.project.defaults import POSITION_STEP
from agencyos.work.task import activity
from agencyos.work.task.placement import place, placement_action, publish_placement
from agencyos.work.task.repository import TaskFilters, TaskView, task_repository
from agencyos.work.task.service import task_service

MAX_COLUMNS = 30


@dataclass
class ColumnView:
    column: BoardColumn
    task_count: int = 0
    tasks: list[TaskView] = field(default_factory=list)


@dataclass
class BoardView:
    project: Project
    columns: list[ColumnView]


class BoardService:
    async def board(
        self, session: AsyncSession, principal: Principal, project_id: uuid.UUID
    ) -> BoardView:
        project = await visible_project(session, principal, project_id)
        columns = {
            c.id: ColumnView(c) for c in await column_repository.of_project(session, project.id)
        }
        tasks = await task_repository.all_of(
            session, task_repository.filtered_query(project.id, TaskFilters(), sort="board")
        )
        for view in await task_service.views(session, tasks):
            column = columns[view.task.column_id]
            column.tasks.append(view)
            column.task_count += 1
        return BoardView(project, list(columns.values()))

    async def columns(self, session: AsyncSession, project_id: uuid.UUID) -> list[ColumnView]:
        counts = await column_repository.task_counts(session, project_id)
        return [
            ColumnView(c, counts.get(c.id, 0))
            for c in await column_repository.of_project(session, project_id)
        ]

    async def _column_view(self, session: AsyncSession, column: BoardColumn) -> ColumnView:
        counts = await column_repository.task_counts(session, column.project_id)
        return ColumnView(column, counts.get(column.id, 0))

    async def _locked_project(
        self, session: AsyncSession, principal: Principal, project_id: uuid.UUID
    ) -> Project:
        project = await visible_project(session, principal, project_id)
        if not await task_repository.lock_project(session, project.id):
            raise NotFound("no such project")
        return project

    async def _locked_project_of_column(
        self, session: AsyncSession, principal: Principal, column_id: uuid.UUID
    ) -> tuple[Project, list[BoardColumn], BoardColumn]:
        """The column's project (locked), its columns (locked) and the column; NotFound when
        the caller cannot see the project."""
        found = await column_repository.get(session, column_id)
        if found is None:
            raise NotFound("no such column")
        try:
            project = await self._locked_project(session, principal, found.project_id)
        except NotFound as exc:
            raise NotFound("no such column") from exc
        columns = await column_repository.lock_of_project(session, project.id)
        column = next((c for c in columns if c.id == column_id), None)
        if column is None:
            raise NotFound("no such column")
        return project, columns, column

    async def add_column(
        self,
        session: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        data: ColumnCreate,
    ) -> ColumnView:
        principal.require("projects.write")
        project = await self._locked_project(session, principal, project_id)
        columns = await column_repository.lock_of_project(session, project.id)
        if len(columns) >= MAX_COLUMNS:
            raise Conflict(f"a board has at most {MAX_COLUMNS} columns")
        column = BoardColumn(
            tenant_id=project.tenant_id,
            id=uuid.uuid4(),
            project_id=project.id,
            name=data.name,
            color=data.color,
            status=data.status.value,
            position=max((c.position for c in columns), default=-1) + 1,
        )
        await column_repository.create(session, column)
        return ColumnView(column, 0)

    async def update_column(
        self,
        session: AsyncSession,
        principal: Principal,
        column_id: uuid.UUID,
        data: ColumnUpdate,
    ) -> ColumnView:
        principal.require("projects.write")
        _, _, column = await self._locked_project_of_column(session, principal, column_id)
        if data.name is not None:
            column.name = data.name
        if data.color is not None:
            column.color = data.color
        if data.status is not None and data.status.value != column.status:
            column.status = data.status.value
            # Status always equals the column's: every task in it follows.
            for task in await task_repository.lock_in_column(session, column.id):
                placement = place(task, column, task.position)
                task.version += 1
                await session.flush()
                await activity.record(
                    session,
                    task,
                    principal.user_id,
                    placement_action(placement, "updated"),
                    placement.changes,
                )
                await publish_placement(
                    session,
                    task,
                    placement,
                    principal.user_id,
                    from_column_id=column.id,
                    moved=False,
                )
        await session.flush()
        return await self._column_view(session, column)

    async def reorder(
        self,
        session: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        column_ids: Sequence[uuid.UUID],
    ) -> list[ColumnView]:
        principal.require("projects.write")
        project = await self._locked_project(session, principal, project_id)
        columns = await column_repository.lock_of_project(session, project.id)
        by_id = {c.id: c for c in columns}
        if len(set(column_ids)) != len(column_ids):
            raise field_error("column_ids", "column_ids names a column more than once")
        unknown = [str(i) for i in column_ids if i not in by_id]
        if unknown:
            raise field_error("column_ids", f"not columns of this board: {', '.join(unknown)}")
        missing = [str(c.id) for c in columns if c.id not in set(column_ids)]
        if missing:
            raise field_error(
                "column_ids",
                f"column_ids must list every column of the board; missing: {', '.join(missing)}",
            )
        await column_repository.renumber(session, [by_id[i] for i in column_ids])
        return await self.columns(session, project.id)

    async def delete_column(
        self,
        session: AsyncSession,
        principal: Principal,
        column_id: uuid.UUID,
        move_to: uuid.UUID | None,
    ) -> None:
        """Remove the column; its tasks go to the bottom of `move_to` (in their order), taking
        its status. A board keeps at least one column."""
        principal.require("projects.write")
        _, columns, column = await self._locked_project_of_column(session, principal, column_id)
        if len(columns) == 1:
            raise Conflict("a board keeps at least one column: this is its last one")
        target = None
        if move_to is not None:
            target = next((c for c in columns if c.id == move_to), None)
            if target is None or target.id == column.id:
                raise field_error(
                    "move_to", "move_to must be another column of the same board", "invalid"
                )
        tasks = await task_repository.lock_in_column(session, column.id)
        if tasks and target is None:
            raise field_error(
                "move_to",
                f"the column has {len(tasks)} task(s): name the column they move to in move_to",
                "missing",
            )
        if target is not None and tasks:
            last = await task_repository.last_position(session, target.id)
            position = last if last is not None else 0.0
            for task in tasks:
                position += POSITION_STEP
                placement = place(task, target, position)
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
                    session,
                    task,
                    placement,
                    principal.user_id,
                    from_column_id=column.id,
                    moved=True,
                )
        await session.delete(column)
        await session.flush()
        await column_repository.renumber(session, [c for c in columns if c.id != column.id])
        await record_deleted(
            session,
            principal,
            "column",
            column.id,
            {"name": column.name},
            {
                "project_id": str(column.project_id),
                "tasks_moved": len(tasks),
                "moved_to": str(target.id) if target else None,
            },
        )


board_service = BoardService()
