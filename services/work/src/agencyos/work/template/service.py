"""Project templates: the blueprints projects copy (board, tasks with relative due dates,
milestones). Templates are plain configuration: no events, and deleting one removes it
(projects made from it keep their own copies)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import InvalidInput, NotFound
from agencyos.common.pagination import PageParams
from agencyos.work.audit_log import record_deleted
from agencyos.work.models import ProjectTemplate
from agencyos.work.template.repository import template_repository
from agencyos.work.template.schemas import (
    TemplateColumn,
    TemplateCreate,
    TemplateMilestone,
    TemplateTask,
    TemplateUpdate,
)

_NOT_NULL = ("name", "billing_type", "is_default", "columns", "tasks", "milestones")


def _error(field: str, message: str) -> dict[str, str]:
    return {"field": field, "message": message, "type": "invalid"}


def shape_errors(
    columns: Sequence[TemplateColumn],
    tasks: Sequence[TemplateTask],
    milestones: Sequence[TemplateMilestone],
) -> list[dict[str, str]]:
    """What the fields' own types cannot say: milestone names are unique, a task names one of
    the template's milestones, and some column has the task's status."""
    errors = []
    names: set[str] = set()
    for index, milestone in enumerate(milestones):
        if milestone.name in names:
            errors.append(_error(f"milestones.{index}.name", "another milestone has this name"))
        names.add(milestone.name)
    statuses = {column.status for column in columns}
    for index, task in enumerate(tasks):
        if task.milestone is not None and task.milestone not in names:
            errors.append(
                _error(
                    f"tasks.{index}.milestone",
                    f"'{task.milestone}' is not one of this template's milestones",
                )
            )
        if task.status not in statuses:
            errors.append(
                _error(f"tasks.{index}.status", f"no column of the board has status {task.status}")
            )
    return errors


def _ensure_shape(
    columns: Sequence[TemplateColumn],
    tasks: Sequence[TemplateTask],
    milestones: Sequence[TemplateMilestone],
) -> None:
    errors = shape_errors(columns, tasks, milestones)
    if errors:
        fields = ", ".join(sorted({e["field"] for e in errors}))
        raise InvalidInput(f"invalid fields: {fields}", errors=errors)


def _json(items: Sequence[Any]) -> list[dict[str, Any]]:
    return [item.model_dump(mode="json") for item in items]


class TemplateService:
    async def create(
        self, session: AsyncSession, principal: Principal, data: TemplateCreate
    ) -> ProjectTemplate:
        _ensure_shape(data.columns, data.tasks, data.milestones)
        if data.is_default:
            await template_repository.lock_default(session, principal.tenant_id)
            await template_repository.clear_default(session)
        template = ProjectTemplate(
            tenant_id=principal.tenant_id,
            id=uuid.uuid4(),
            name=data.name,
            description=data.description,
            billing_type=data.billing_type.value,
            is_default=data.is_default,
            columns=_json(data.columns),
            tasks=_json(data.tasks),
            milestones=_json(data.milestones),
            created_by=None if principal.api_key_id else principal.user_id,
        )
        await template_repository.create(session, template)
        return template

    async def get(self, session: AsyncSession, template_id: uuid.UUID) -> ProjectTemplate:
        template = await template_repository.get(session, template_id)
        if template is None:
            raise NotFound("no such project template")
        return template

    async def list_templates(
        self,
        session: AsyncSession,
        params: PageParams,
        *,
        q: str | None = None,
        sort: str = "name",
    ) -> tuple[Sequence[ProjectTemplate], int]:
        stmt = template_repository.filtered_query(q=q, sort=sort)
        return await template_repository.paginate(
            session, stmt, page=params.page, per_page=params.per_page
        )

    async def update(
        self,
        session: AsyncSession,
        principal: Principal,
        template_id: uuid.UUID,
        data: TemplateUpdate,
    ) -> ProjectTemplate:
        if data.is_default:
            await template_repository.lock_default(session, principal.tenant_id)
        template = await template_repository.get_for_update(session, template_id)
        if template is None:
            raise NotFound("no such project template")
        sent = data.model_fields_set
        nulls = [f for f in _NOT_NULL if f in sent and getattr(data, f) is None]
        if nulls:
            raise InvalidInput(
                f"invalid fields: {', '.join(nulls)}",
                errors=[_error(f, f"{f} cannot be null") for f in nulls],
            )
        columns = data.columns
        if columns is None:
            columns = [TemplateColumn.model_validate(c) for c in template.columns]
        tasks = data.tasks
        if tasks is None:
            tasks = [TemplateTask.model_validate(t) for t in template.tasks]
        milestones = data.milestones
        if milestones is None:
            milestones = [TemplateMilestone.model_validate(m) for m in template.milestones]
        _ensure_shape(columns, tasks, milestones)
        changes: dict[str, Any] = {}
        for name in ("name", "description"):
            if name in sent:
                changes[name] = getattr(data, name)
        if data.billing_type is not None:
            changes["billing_type"] = data.billing_type.value
        if data.columns is not None:
            changes["columns"] = _json(data.columns)
        if data.tasks is not None:
            changes["tasks"] = _json(data.tasks)
        if data.milestones is not None:
            changes["milestones"] = _json(data.milestones)
        if data.is_default is not None and data.is_default != template.is_default:
            if data.is_default:
                await template_repository.clear_default(session)
            changes["is_default"] = data.is_default
        if changes:
            await template_repository.update(session, template, changes)
            await session.refresh(template)
        return template

    async def delete(
        self, session: AsyncSession, principal: Principal, template_id: uuid.UUID
    ) -> None:
        template = await template_repository.get_for_update(session, template_id)
        if template is None:
            raise NotFound("no such project template")
        await template_repository.delete(session, template)
        await record_deleted(
            session, principal, "project_template", template.id, {"name": template.name}
        )

    async def for_new_project(
        self, session: AsyncSession, template_id: uuid.UUID | None
    ) -> ProjectTemplate | None:
        """The template a new project copies: the one named, else the agency's default,
        else none (the default board). None too when the named one does not exist."""
        if template_id is not None:
            return await template_repository.get(session, template_id)
        return await template_repository.default(session)

    async def default(self, session: AsyncSession) -> ProjectTemplate | None:
        return await template_repository.default(session)


template_service = TemplateService()
