"""The projects invoicing needs, from time's own copy of work's projects; a project the copy
does not hold yet (no event about it has arrived, or it predates the copy) is asked of work
once and kept.

What the caller may see follows work's rule: everything with `projects.read_all`, else the
projects the caller is a member of."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.events import ProjectState
from agencyos.common.peers.work import Project, WorkClient
from agencyos.time.models import WorkProject
from agencyos.time.projects.repository import ASKED, work_project_repository


@dataclass(frozen=True)
class ProjectFacts:
    """What time needs of a project to value and bill its time."""

    id: uuid.UUID
    name: str
    client_id: uuid.UUID | None
    status: str
    billing_type: str
    hourly_rate_cents: int | None
    currency: str
    member_ids: frozenset[uuid.UUID]


def _from_copy(row: WorkProject) -> ProjectFacts:
    return ProjectFacts(
        id=row.id,
        name=row.name,
        client_id=row.client_id,
        status=row.status,
        billing_type=row.billing_type,
        hourly_rate_cents=row.hourly_rate_cents,
        currency=row.currency,
        member_ids=frozenset(row.member_ids),
    )


def _from_work(project: Project) -> ProjectFacts:
    return ProjectFacts(
        id=project.id,
        name=project.name,
        client_id=project.client_id,
        status=project.status,
        billing_type=project.billing_type,
        hourly_rate_cents=project.hourly_rate_cents,
        currency=project.currency,
        member_ids=project.member_ids,
    )


def _state(project: Project) -> ProjectState:
    return ProjectState(
        name=project.name,
        client_id=project.client_id,
        status=project.status,
        billing_type=project.billing_type,
        hourly_rate_cents=project.hourly_rate_cents,
        currency=project.currency,
        member_ids=sorted(project.member_ids),
        changed_at=ASKED,
    )


def _visible(principal: Principal, facts: ProjectFacts) -> bool:
    return principal.can("projects.read_all") or principal.user_id in facts.member_ids


async def known_projects(
    session: AsyncSession,
    principal: Principal,
    work: WorkClient,
    project_ids: Iterable[uuid.UUID],
) -> dict[uuid.UUID, ProjectFacts]:
    """The projects among `project_ids` the caller may see; the others are absent."""
    wanted = list(dict.fromkeys(project_ids))
    kept = await work_project_repository.by_ids(session, wanted)
    found = {i: _from_copy(row) for i, row in kept.items()}
    missing = [i for i in wanted if i not in kept]
    if missing:
        for project in (await work.projects(principal, missing)).values():
            await work_project_repository.apply(
                session,
                principal.tenant_id,
                project.id,
                _state(project),
                insert_only=True,
            )
            found[project.id] = _from_work(project)
    return {i: facts for i, facts in found.items() if _visible(principal, facts)}
