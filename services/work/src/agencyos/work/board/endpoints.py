import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from agencyos.common.web import TenantSession
from agencyos.work.board.schemas import (
    Board,
    BoardColumn,
    Column,
    ColumnCreate,
    ColumnOrder,
    Columns,
    ColumnUpdate,
)
from agencyos.work.board.service import ColumnView, board_service
from agencyos.work.project.permissions import ProjectsRead, ProjectsWrite
from agencyos.work.task.schemas import TaskStatus, task_summary

router = APIRouter(tags=["boards"])

_PROJECT_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project that you can see"}
}
_COLUMN_404: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such column on a board you can see"}
}


def column_out(view: ColumnView) -> Column:
    column = view.column
    return Column(
        id=column.id,
        project_id=column.project_id,
        name=column.name,
        color=column.color,
        status=TaskStatus(column.status),
        position=column.position,
        task_count=view.task_count,
    )


@router.get(
    "/v1/projects/{project_id}/board",
    response_model=Board,
    summary="A project's board",
    description=(
        "The board's columns left to right, each with its tasks top to bottom (card fields, "
        "subtask counts, blockers and each task's `version`)."
    ),
    responses=_PROJECT_404,
)
async def get_board(
    project_id: uuid.UUID, principal: ProjectsRead, session: TenantSession
) -> Board:
    view = await board_service.board(session, principal, project_id)
    return Board(
        project_id=view.project.id,
        project_name=view.project.name,
        columns=[
            BoardColumn(**column_out(c).model_dump(), tasks=[task_summary(t) for t in c.tasks])
            for c in view.columns
        ],
    )


@router.post(
    "/v1/projects/{project_id}/columns",
    status_code=status.HTTP_201_CREATED,
    response_model=Column,
    summary="Add a board column",
    description=(
        "A column at the right end of the board (reorder with "
        "`PUT /v1/projects/{id}/columns/order`). Managers and above (`projects.write`)."
    ),
    responses={**_PROJECT_404, 409: {"description": "The board has the most columns it may"}},
)
async def add_column(
    project_id: uuid.UUID, body: ColumnCreate, principal: ProjectsWrite, session: TenantSession
) -> Column:
    return column_out(await board_service.add_column(session, principal, project_id, body))


@router.patch(
    "/v1/columns/{column_id}",
    response_model=Column,
    summary="Rename, recolour or remap a column",
    description=(
        "Only the fields sent change. A new `status` carries every task in the column with "
        "it (into `done` completes them, out of it reopens them; each task's version is "
        "bumped and the change logged)."
    ),
    responses=_COLUMN_404,
)
async def update_column(
    column_id: uuid.UUID, body: ColumnUpdate, principal: ProjectsWrite, session: TenantSession
) -> Column:
    return column_out(await board_service.update_column(session, principal, column_id, body))


@router.put(
    "/v1/projects/{project_id}/columns/order",
    response_model=Columns,
    summary="Reorder the board's columns",
    description="`column_ids` lists every column of the board, each once, left to right.",
    responses={**_PROJECT_404, 422: {"description": "Not exactly the board's columns"}},
)
async def reorder_columns(
    project_id: uuid.UUID, body: ColumnOrder, principal: ProjectsWrite, session: TenantSession
) -> Columns:
    views = await board_service.reorder(session, principal, project_id, body.column_ids)
    return Columns(project_id=project_id, columns=[column_out(v) for v in views])


@router.delete(
    "/v1/columns/{column_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a board column",
    description=(
        "The column's tasks move, in their order, to the bottom of `move_to` (another column "
        "of the board; required when the column has tasks) and take its status. A board "
        "keeps at least one column (409)."
    ),
    responses={
        **_COLUMN_404,
        409: {"description": "It is the board's last column"},
        422: {"description": "`move_to` missing (the column has tasks) or not of this board"},
    },
)
async def delete_column(
    column_id: uuid.UUID,
    principal: ProjectsWrite,
    session: TenantSession,
    move_to: Annotated[
        uuid.UUID | None,
        Query(description="The column that takes this column's tasks"),
    ] = None,
) -> Response:
    await board_service.delete_column(session, principal, column_id, move_to)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
