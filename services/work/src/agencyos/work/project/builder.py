"""Creating a project with everything it starts with, in the caller's transaction: the board
(the template's columns or the defaults), the template's tasks (due dates relative to the
start date) and milestones, the members, and the `work.project.created` event.

One path for the API and the deal-won saga, so a project looks the same however it began.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.events import ProjectCreated
from agencyos.common.outbox import publish
from agencyos.work.models import (
    BoardColumn,
    Milestone,
    Project,
    ProjectMember,
    ProjectTemplate,
    Task,
)
from agencyos.work.project.defaults import DEFAULT_COLUMNS, POSITION_STEP
from agencyos.work.project.repository import project_repository

SERVICE = "work"


@dataclass
class NewProject:
    tenant_id: uuid.UUID
    name: str
    created_by: uuid.UUID | None
    description: str | None = None
    client_id: uuid.UUID | None = None
    deal_id: uuid.UUID | None = None
    status: str = "planning"
    billing_type: str | None = None  # None: the template's, else hourly
    hourly_rate_cents: int | None = None
    currency: str = "USD"
    budget_cents: int | None = None
    budget_hours: Decimal | None = None
    start_date: date | None = None
    deadline: date | None = None
    member_ids: list[uuid.UUID] = field(default_factory=list)


async def build_project(
    session: AsyncSession, new: NewProject, template: ProjectTemplate | None
) -> Project:
    """Insert the project and what it starts with; flushes, never commits. The caller
    handles a unique violation on `deal_id` (the saga's exactly-once guard)."""
    project = Project(
        tenant_id=new.tenant_id,
        id=uuid.uuid4(),
        name=new.name,
        description=new.description,
        client_id=new.client_id,
        deal_id=new.deal_id,
        template_id=template.id if template else None,
        status=new.status,
        billing_type=new.billing_type or (template.billing_type if template else "hourly"),
        hourly_rate_cents=new.hourly_rate_cents,
        currency=new.currency,
        budget_cents=new.budget_cents,
        budget_hours=new.budget_hours,
        start_date=new.start_date,
        deadline=new.deadline,
        created_by=new.created_by,
    )
    session.add(project)
    await session.flush()
    members = list(dict.fromkeys([*([new.created_by] if new.created_by else []), *new.member_ids]))
    for user_id in members:
        session.add(
            ProjectMember(
                tenant_id=new.tenant_id,
                project_id=project.id,
                user_id=user_id,
                added_by=new.created_by,
            )
        )
    columns = _columns(project, template.columns if template and template.columns else None)
    session.add_all(columns)
    await session.flush()
    if template is not None:
        milestones = _milestones(project, template.milestones, new.start_date)
        session.add_all(milestones.values())
        await session.flush()
        session.add_all(_tasks(project, columns, milestones, template.tasks, new.start_date))
        await session.flush()
    await publish(
        session,
        ProjectCreated(
            project_id=project.id,
            name=project.name,
            client_id=project.client_id,
            deal_id=project.deal_id,
            created_by=project.created_by,
            project=await project_repository.state(session, project),
        ),
        source_service=SERVICE,
        subject=f"projects/{project.id}",
    )
    return project


def _columns(project: Project, spec: Iterable[dict[str, Any]] | None) -> list[BoardColumn]:
    return [
        BoardColumn(
            tenant_id=project.tenant_id,
            id=uuid.uuid4(),
            project_id=project.id,
            name=str(column["name"]),
            color=str(column.get("color") or "#9CA3AF"),
            status=str(column["status"]),
            position=index,
        )
        for index, column in enumerate(spec or DEFAULT_COLUMNS)
    ]


def _due(start: date | None, offset: Any) -> date | None:
    if offset is None:
        return None
    return (start or date.today()) + timedelta(days=int(offset))


def _milestones(
    project: Project, spec: Iterable[dict[str, Any]], start: date | None
) -> dict[str, Milestone]:
    return {
        str(m["name"]): Milestone(
            tenant_id=project.tenant_id,
            id=uuid.uuid4(),
            project_id=project.id,
            name=str(m["name"]),
            due_date=_due(start, m.get("due_offset_days")),
            amount_cents=m.get("amount_cents"),
        )
        for m in spec
    }


def _tasks(
    project: Project,
    columns: list[BoardColumn],
    milestones: dict[str, Milestone],
    spec: Iterable[dict[str, Any]],
    start: date | None,
) -> list[Task]:
    """Each template task goes to the first column with its status (default: the first)."""
    by_status: dict[str, BoardColumn] = {}
    for column in columns:
        by_status.setdefault(column.status, column)
    counts: dict[uuid.UUID, int] = {}
    tasks = []
    for item in spec:
        column = by_status.get(str(item.get("status") or "todo"), columns[0])
        counts[column.id] = counts.get(column.id, 0) + 1
        milestone = milestones.get(str(item["milestone"])) if item.get("milestone") else None
        estimate = item.get("estimate_hours")
        tasks.append(
            Task(
                tenant_id=project.tenant_id,
                id=uuid.uuid4(),
                project_id=project.id,
                column_id=column.id,
                title=str(item["title"]),
                description=item.get("description"),
                status=column.status,
                priority=str(item.get("priority") or "medium"),
                due_date=_due(start, item.get("due_offset_days")),
                estimate_hours=Decimal(str(estimate)) if estimate is not None else None,
                labels=list(item.get("labels") or []),
                milestone_id=milestone.id if milestone else None,
                visible_to_client=bool(item.get("visible_to_client", False)),
                position=counts[column.id] * POSITION_STEP,
                created_by=project.created_by,
            )
        )
    return tasks
