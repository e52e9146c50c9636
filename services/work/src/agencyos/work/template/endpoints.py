import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status

from agencyos.common.pagination import Page, Pagination
from agencyos.common.types import Name
from agencyos.common.web import TenantSession
from agencyos.work.project.permissions import ProjectsRead, ProjectsWrite
from agencyos.work.template.schemas import (
    Template,
    TemplateCreate,
    TemplateSort,
    TemplateUpdate,
)
from agencyos.work.template.service import template_service

router = APIRouter(prefix="/v1/project-templates", tags=["project templates"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project template in your agency"}
}
_SHAPE = (
    "`columns` (at least one) are the board in order, each mapped to a task status; each task "
    "starts in the first column with its `status`, may name one of the template's milestones "
    "by `milestone`, and gets the due date `start_date + due_offset_days` in a project. "
    "Milestone names are unique within the template. A problem answers 422 naming the field "
    "(e.g. `tasks.2.milestone`)."
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Template,
    summary="Create a project template",
    description=f"{_SHAPE} `is_default: true` makes it the agency's default template (the "
    "previous default stops being one). Needs `projects.write`.",
    responses={422: {"description": "Invalid fields"}},
)
async def create_template(
    body: TemplateCreate, principal: ProjectsWrite, session: TenantSession, response: Response
) -> Template:
    template = await template_service.create(session, principal, body)
    response.headers["Location"] = f"/v1/project-templates/{template.id}"
    return Template.model_validate(template)


@router.get(
    "",
    response_model=Page[Template],
    summary="List project templates",
    description="`q`: name contains (case-insensitive). `sort`: name or created_at, `-` for "
    "descending (default `name`).",
)
async def list_templates(
    principal: ProjectsRead,
    session: TenantSession,
    pagination: Pagination,
    q: Annotated[Name | None, Query(max_length=200)] = None,
    sort: TemplateSort = TemplateSort.NAME,
) -> Page[Template]:
    items, total = await template_service.list_templates(
        session, pagination, q=q.strip() or None if q else None, sort=sort.value
    )
    return pagination.page_of([Template.model_validate(t) for t in items], total)


@router.get(
    "/{template_id}",
    response_model=Template,
    summary="Get a project template",
    description="Readable by everyone with `projects.read`.",
    responses=_NOT_FOUND,
)
async def get_template(
    template_id: uuid.UUID, principal: ProjectsRead, session: TenantSession
) -> Template:
    return Template.model_validate(await template_service.get(session, template_id))


@router.patch(
    "/{template_id}",
    response_model=Template,
    summary="Update a project template",
    description=f"Only the fields sent change; `columns`, `tasks` and `milestones` are "
    f"replaced whole. Projects made from the template earlier keep what they copied. {_SHAPE}",
    responses={**_NOT_FOUND, 422: {"description": "Invalid fields"}},
)
async def update_template(
    template_id: uuid.UUID, body: TemplateUpdate, principal: ProjectsWrite, session: TenantSession
) -> Template:
    template = await template_service.update(session, principal, template_id, body)
    return Template.model_validate(template)


@router.delete(
    "/{template_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a project template",
    description="Projects made from it keep their board, tasks and milestones. Deleting the "
    "default template leaves the agency without one (new projects get the default board).",
    responses=_NOT_FOUND,
)
async def delete_template(
    template_id: uuid.UUID, principal: ProjectsWrite, session: TenantSession
) -> Response:
    await template_service.delete(session, principal, template_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
