"""Projects: create (from a template, the agency's default template or the default board),
read, list, update, archive, members; and the deal-won saga's project."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from enum import StrEnum
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.errors import InvalidInput, NotFound, field_error
from agencyos.common.events import DealWon, ProjectStatusChanged, ProjectUpdated
from agencyos.common.logs import get_logger
from agencyos.common.outbox import publish
from agencyos.common.pagination import PageParams
from agencyos.work.audit_log import MONEY_FIELDS, jsonable
from agencyos.work.models import Project, ProjectMember
from agencyos.work.project.access import sees_all_projects, visible_project
from agencyos.work.project.builder import SERVICE, NewProject, build_project
from agencyos.work.project.peers import Peers
from agencyos.work.project.repository import ProjectView, project_repository
from agencyos.work.project.schemas import ProjectCreate, ProjectUpdate
from agencyos.work.template.service import template_service

log = get_logger(__name__)

DEFAULT_CURRENCY = "USD"
# Fields a PATCH may not set to null (the rest are optional and null clears them).
_NOT_NULL = ("name", "status", "billing_type", "currency")


def _deal_taken(exc: IntegrityError) -> bool:
    return "uq_projects_deal" in str(exc.orig)


class ProjectService:
    async def _ensure_staff(
        self, principal: Principal, user_ids: Sequence[uuid.UUID], peers: Peers, field: str
    ) -> None:
        members = await peers.identity.members(principal, user_ids)
        found = {m.user_id for m in members.values() if m.is_staff}
        errors = [
            {
                "field": f"{field}.{index}" if field == "member_ids" else field,
                "message": "not an active member of this agency",
                "type": "invalid",
            }
            for index, user_id in enumerate(user_ids)
            if user_id not in found
        ]
        if errors:
            raise InvalidInput(
                f"{field}: not an active member of this agency",
                errors=errors,
            )

    async def create(
        self, session: AsyncSession, principal: Principal, data: ProjectCreate, peers: Peers
    ) -> ProjectView:
        template = await template_service.for_new_project(session, data.template_id)
        if data.template_id is not None and template is None:
            raise field_error("template_id", "no such project template in this agency")
        currency = data.currency
        if data.client_id is not None:
            client = await peers.crm.client(principal, data.client_id)
            if client is None:
                raise field_error("client_id", "no such client in this agency")
            currency = currency or client.currency
        if data.member_ids:
            await self._ensure_staff(principal, data.member_ids, peers, "member_ids")
        # An API key is not a person: it does not become a member of what it creates.
        creator = None if principal.api_key_id else principal.user_id
        project = await build_project(
            session,
            NewProject(
                tenant_id=principal.tenant_id,
                name=data.name,
                created_by=creator,
                description=data.description,
                client_id=data.client_id,
                status=data.status.value,
                billing_type=data.billing_type.value if data.billing_type else None,
                hourly_rate_cents=data.hourly_rate_cents,
                currency=currency or DEFAULT_CURRENCY,
                budget_cents=data.budget_cents,
                budget_hours=data.budget_hours,
                start_date=data.start_date,
                deadline=data.deadline,
                member_ids=list(data.member_ids),
            ),
            template,
        )
        await session.refresh(project)
        return await project_repository.view(session, project)

    async def get(
        self, session: AsyncSession, principal: Principal, project_id: uuid.UUID
    ) -> ProjectView:
        project = await visible_project(session, principal, project_id)
        return await project_repository.view(session, project)

    async def list_projects(
        self,
        session: AsyncSession,
        principal: Principal,
        params: PageParams,
        *,
        client_id: uuid.UUID | None = None,
        deal_id: uuid.UUID | None = None,
        status: str | None = None,
        member_id: uuid.UUID | None = None,
        q: str | None = None,
        sort: str = "-created_at",
    ) -> tuple[list[ProjectView], int]:
        principal.require("projects.read")
        stmt = project_repository.filtered_query(
            visible_to=None if sees_all_projects(principal) else principal.user_id,
            client_id=client_id,
            deal_id=deal_id,
            status=status,
            member_id=member_id,
            q=q,
            sort=sort,
        )
        projects, total = await project_repository.paginate(
            session, stmt, page=params.page, per_page=params.per_page
        )
        return await project_repository.views(session, projects), total

    async def update(
        self,
        session: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        data: ProjectUpdate,
        peers: Peers,
    ) -> ProjectView:
        project = await visible_project(session, principal, project_id, lock=True)
        sent: dict[str, Any] = {
            k: v.value if isinstance(v, StrEnum) else v
            for k, v in data.model_dump(exclude_unset=True).items()
        }
        nulls = [f for f in _NOT_NULL if f in sent and sent[f] is None]
        if nulls:
            raise InvalidInput(
                f"invalid fields: {', '.join(nulls)}",
                errors=[
                    {"field": f, "message": f"{f} cannot be null", "type": "invalid"} for f in nulls
                ],
            )
        changes = {k: v for k, v in sent.items() if getattr(project, k) != v}
        start = changes.get("start_date", project.start_date)
        deadline = changes.get("deadline", project.deadline)
        if start is not None and deadline is not None and deadline < start:
            field = "deadline" if "deadline" in changes else "start_date"
            raise field_error(field, "deadline must not be before start_date")
        if (
            changes.get("client_id") is not None
            and await peers.crm.client(principal, changes["client_id"]) is None
        ):
            raise field_error("client_id", "no such client in this agency")
        if changes:
            await self._apply(session, principal, project, changes)
        return await project_repository.view(session, project)

    async def archive(
        self, session: AsyncSession, principal: Principal, project_id: uuid.UUID
    ) -> ProjectView:
        """Archive (status `archived`): a project is never deleted; its time, invoices and
        history keep pointing at it."""
        project = await visible_project(session, principal, project_id, lock=True)
        if project.status != "archived":
            await self._apply(session, principal, project, {"status": "archived"})
        return await project_repository.view(session, project)

    async def _apply(
        self, session: AsyncSession, principal: Principal, project: Project, changes: dict[str, Any]
    ) -> None:
        old_status = project.status
        money_before = {f: jsonable(getattr(project, f)) for f in MONEY_FIELDS if f in changes}
        await project_repository.update(session, project, changes)
        await session.refresh(project)
        if money_before:
            # What the project's time and milestones are billed at: the audit log keeps it.
            await record_audit(
                session,
                action="project.billing_changed",
                entity_type="project",
                entity_id=project.id,
                actor=principal,
                source_service=SERVICE,
                before=money_before,
                after={f: jsonable(getattr(project, f)) for f in money_before},
            )
        if changes.get("status") == "archived" and old_status != "archived":
            await record_audit(
                session,
                action="project.archived",
                entity_type="project",
                entity_id=project.id,
                actor=principal,
                source_service=SERVICE,
                before={"status": old_status},
                after={"status": "archived"},
                detail={"name": project.name},
            )
        actor = None if principal.api_key_id else principal.user_id
        fields = sorted(f for f in changes if f != "status")
        if fields:
            await publish(
                session,
                ProjectUpdated(
                    project_id=project.id,
                    changed_fields=fields,
                    name=project.name,
                    client_id=project.client_id,
                    billing_type=project.billing_type,
                    currency=project.currency,
                    updated_by=actor,
                    project=await project_repository.state(session, project),
                ),
                source_service=SERVICE,
                subject=f"projects/{project.id}",
            )
        if "status" in changes:
            await publish(
                session,
                ProjectStatusChanged(
                    project_id=project.id,
                    client_id=project.client_id,
                    old_status=old_status,
                    new_status=project.status,
                    changed_by=actor,
                    project=await project_repository.state(session, project),
                ),
                source_service=SERVICE,
                subject=f"projects/{project.id}",
            )

    # --- members ------------------------------------------------------------------------------

    async def members(
        self, session: AsyncSession, principal: Principal, project_id: uuid.UUID
    ) -> list[ProjectMember]:
        project = await visible_project(session, principal, project_id)
        return await project_repository.members(session, project.id)

    async def add_member(
        self,
        session: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        user_id: uuid.UUID,
        peers: Peers,
    ) -> tuple[ProjectMember, bool]:
        """Add a member; answers the membership and whether it is new (adding an existing
        member again changes nothing)."""
        project = await visible_project(session, principal, project_id, lock=True)
        await self._ensure_staff(principal, [user_id], peers, "user_id")
        actor = None if principal.api_key_id else principal.user_id
        added = await project_repository.add_member(session, project, user_id, actor)
        if added:
            await self._members_changed(session, project, actor)
        member = next(
            m for m in await project_repository.members(session, project.id) if m.user_id == user_id
        )
        return member, added

    async def remove_member(
        self,
        session: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        user_id: uuid.UUID,
    ) -> None:
        project = await visible_project(session, principal, project_id, lock=True)
        if not await project_repository.remove_member(session, project.id, user_id):
            raise NotFound("that user is not a member of this project")
        await project_repository.drop_task_follows(session, project.id, user_id)
        await record_audit(
            session,
            action="project.member_removed",
            entity_type="project",
            entity_id=project.id,
            actor=principal,
            source_service=SERVICE,
            detail={"user_id": str(user_id)},
        )
        await self._members_changed(
            session, project, None if principal.api_key_id else principal.user_id
        )

    async def _members_changed(
        self, session: AsyncSession, project: Project, actor: uuid.UUID | None
    ) -> None:
        await publish(
            session,
            ProjectUpdated(
                project_id=project.id,
                changed_fields=["members"],
                name=project.name,
                client_id=project.client_id,
                billing_type=project.billing_type,
                currency=project.currency,
                updated_by=actor,
                project=await project_repository.state(session, project),
            ),
            source_service=SERVICE,
            subject=f"projects/{project.id}",
        )

    # --- the deal-won saga --------------------------------------------------------------------

    async def create_from_deal(
        self, session: AsyncSession, tenant_id: uuid.UUID, deal: DealWon
    ) -> Project | None:
        """The won deal's project, exactly once per deal: None when the deal already has one
        (a re-run, or another replica that got there first; its event was published with it).

        The inbox already drops a redelivered event; the unique (tenant, deal) index catches
        everything else: a second event for the same deal, or two replicas racing (the later
        insert waits for the earlier transaction and then fails). That failure is confined to
        a savepoint, so the inbox row still commits and the event counts as handled."""
        template = None
        if deal.template_id is not None:
            template = await template_service.for_new_project(session, deal.template_id)
            if template is None:
                log.info("deal's template is gone; using the default", deal_id=str(deal.deal_id))
        if template is None:
            template = await template_service.default(session)
        members = [deal.assigned_to] if deal.assigned_to else []
        new = NewProject(
            tenant_id=tenant_id,
            name=deal.title,
            created_by=deal.won_by,
            description=deal.description,
            client_id=deal.client_id,
            deal_id=deal.deal_id,
            billing_type=template.billing_type if template else "fixed",
            currency=deal.currency,
            budget_cents=deal.value_cents,
            start_date=deal.won_at.date(),
            member_ids=members,
        )
        try:
            async with session.begin_nested():
                project = await build_project(session, new, template)
        except IntegrityError as exc:
            if not _deal_taken(exc):
                raise
            log.info("deal already has a project", deal_id=str(deal.deal_id))
            return None
        log.info(
            "project created from won deal", deal_id=str(deal.deal_id), project_id=str(project.id)
        )
        return project


project_service = ProjectService()
