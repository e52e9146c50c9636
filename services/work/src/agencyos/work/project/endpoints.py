import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from agencyos.common.pagination import Page, Pagination
from agencyos.common.types import Name
from agencyos.common.web import TenantSession
from agencyos.work.project.peers import Peers
from agencyos.work.project.permissions import ProjectsRead, ProjectsWrite
from agencyos.work.project.schemas import (
    Project,
    ProjectCreate,
    ProjectMember,
    ProjectMemberAdd,
    ProjectSort,
    ProjectStatus,
    ProjectUpdate,
)
from agencyos.work.project.service import project_service

router = APIRouter(prefix="/v1/projects", tags=["projects"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such project in your agency, or not one you are a member of"}
}
_VISIBILITY = (
    "Managers and above (`projects.read_all`) see every project of the agency; everyone else "
    "only the projects they are a member of (others answer 404, like missing ones)."
)


def peers(request: Request) -> Peers:
    return Peers.of(request.app.state.ctx.settings)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Project,
    summary="Create a project",
    description=(
        "Creates the project with its board and makes the creator a member. With "
        "`template_id` the template's columns, tasks and milestones are copied (due dates = "
        "`start_date` + each item's `due_offset_days`); without it the agency's default "
        "template is used if it has one, else the default board (To do, In progress, Review, "
        "Done). Publishes `work.project.created`. Needs `projects.write`."
    ),
    responses={
        403: {"description": "The caller lacks projects.write"},
        422: {
            "description": "Invalid fields; an unknown template_id or client_id, or a "
            "member_ids entry that is not an active member of the agency"
        },
    },
)
async def create_project(
    body: ProjectCreate,
    principal: ProjectsWrite,
    session: TenantSession,
    request: Request,
    response: Response,
) -> Project:
    view = await project_service.create(session, principal, body, peers(request))
    response.headers["Location"] = f"/v1/projects/{view.project.id}"
    return Project.of(view)


@router.get(
    "",
    response_model=Page[Project],
    summary="List projects",
    description=(
        f"{_VISIBILITY} Filters combine with AND: `client_id`, `deal_id`, `status`, `member` "
        "(a user id: projects that user is a member of), `q` (name contains, case-insensitive). "
        "`sort` is "
        "one of name, created_at, deadline, with `-` for descending (default `-created_at`; "
        "projects without a deadline come last)."
    ),
)
async def list_projects(
    principal: ProjectsRead,
    session: TenantSession,
    pagination: Pagination,
    client_id: uuid.UUID | None = None,
    deal_id: Annotated[uuid.UUID | None, Query(description="The won deal it came from")] = None,
    status_filter: Annotated[ProjectStatus | None, Query(alias="status")] = None,
    member: Annotated[uuid.UUID | None, Query(description="A user id")] = None,
    q: Annotated[Name | None, Query(max_length=200)] = None,
    sort: ProjectSort = ProjectSort.CREATED_AT_DESC,
) -> Page[Project]:
    views, total = await project_service.list_projects(
        session,
        principal,
        pagination,
        client_id=client_id,
        deal_id=deal_id,
        status=status_filter.value if status_filter else None,
        member_id=member,
        q=q.strip() or None if q else None,
        sort=sort.value,
    )
    return pagination.page_of([Project.of(v) for v in views], total)


@router.get(
    "/{project_id}",
    response_model=Project,
    summary="Get a project",
    description=f"The project with its members and progress. {_VISIBILITY}",
    responses=_NOT_FOUND,
)
async def get_project(
    project_id: uuid.UUID, principal: ProjectsRead, session: TenantSession
) -> Project:
    return Project.of(await project_service.get(session, principal, project_id))


@router.patch(
    "/{project_id}",
    response_model=Project,
    summary="Update a project",
    description=(
        "Only the fields sent change; `null` clears an optional field. Publishes "
        "`work.project.updated` for field changes and `work.project.status_changed` when the "
        "status changes. `deal_id`, the template and members cannot be changed here."
    ),
    responses={**_NOT_FOUND, 422: {"description": "Invalid fields"}},
)
async def update_project(
    project_id: uuid.UUID,
    body: ProjectUpdate,
    principal: ProjectsWrite,
    session: TenantSession,
    request: Request,
) -> Project:
    view = await project_service.update(session, principal, project_id, body, peers(request))
    return Project.of(view)


@router.delete(
    "/{project_id}",
    response_model=Project,
    summary="Archive a project",
    description=(
        "Sets the status to `archived` (publishing `work.project.status_changed`); projects "
        "are never deleted, so time entries, invoices and history keep their project. "
        "Archiving an archived project changes nothing."
    ),
    responses=_NOT_FOUND,
)
async def archive_project(
    project_id: uuid.UUID, principal: ProjectsWrite, session: TenantSession
) -> Project:
    return Project.of(await project_service.archive(session, principal, project_id))


@router.get(
    "/{project_id}/members",
    response_model=list[ProjectMember],
    summary="List a project's members",
    description=f"Oldest first. {_VISIBILITY}",
    responses=_NOT_FOUND,
)
async def list_project_members(
    project_id: uuid.UUID, principal: ProjectsRead, session: TenantSession
) -> list[ProjectMember]:
    members = await project_service.members(session, principal, project_id)
    return [ProjectMember.model_validate(m) for m in members]


@router.post(
    "/{project_id}/members",
    response_model=ProjectMember,
    status_code=status.HTTP_201_CREATED,
    summary="Add a member to a project",
    description=(
        "The user must be an active, non-client member of the agency. Adding someone who "
        "already is a member answers 200 with their membership and changes nothing."
    ),
    responses={
        **_NOT_FOUND,
        200: {"description": "Already a member", "model": ProjectMember},
        422: {"description": "user_id is not an active member of the agency"},
    },
)
async def add_project_member(
    project_id: uuid.UUID,
    body: ProjectMemberAdd,
    principal: ProjectsWrite,
    session: TenantSession,
    request: Request,
    response: Response,
) -> ProjectMember:
    member, added = await project_service.add_member(
        session, principal, project_id, body.user_id, peers(request)
    )
    if not added:
        response.status_code = status.HTTP_200_OK
    return ProjectMember.model_validate(member)


@router.delete(
    "/{project_id}/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member from a project",
    description="They no longer see the project (unless they hold `projects.read_all`). "
    'Publishes `work.project.updated` with `changed_fields: ["members"]`, as adding does.',
    responses={404: {"description": "No such project, or the user is not a member of it"}},
)
async def remove_project_member(
    project_id: uuid.UUID, user_id: uuid.UUID, principal: ProjectsWrite, session: TenantSession
) -> Response:
    await project_service.remove_member(session, principal, project_id, user_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
