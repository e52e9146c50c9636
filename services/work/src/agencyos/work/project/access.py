"""Who sees which project: managers and above (`projects.read_all`) every project of the
agency, everyone else only the projects they are a member of. A project the caller may not
see answers 404, exactly like one that does not exist (or belongs to another agency)."""

from __future__ import annotations

import uuid

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import NotFound
from agencyos.work.models import Project, ProjectMember


def sees_all_projects(principal: Principal) -> bool:
    return principal.can("projects.read_all")


async def is_project_member(
    session: AsyncSession, project_id: uuid.UUID, user_id: uuid.UUID
) -> bool:
    stmt = select(
        exists().where(ProjectMember.project_id == project_id, ProjectMember.user_id == user_id)
    )
    return bool((await session.execute(stmt)).scalar())


async def visible_project(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID, *, lock: bool = False
) -> Project:
    """The project if the caller may see it (`lock`: with its row locked); else NotFound."""
    principal.require("projects.read")
    stmt = select(Project).where(Project.id == project_id)
    if lock:
        stmt = stmt.with_for_update()
    project = (await session.execute(stmt)).scalar_one_or_none()
    if project is None:
        raise NotFound("no such project")
    if not sees_all_projects(principal) and not await is_project_member(
        session, project.id, principal.user_id
    ):
        raise NotFound("no such project")
    return project
