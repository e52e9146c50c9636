"""Deliverables and their approval state machine.

    draft ──submit──▶ submitted ──approve──────────▶ approved
                        ▲   └──request_changes──▶ changes_requested
                        └────────submit─────────────────┘

`TRANSITIONS` is the whole machine; `_transition` is the only place a status changes. Every
transition locks the row, writes a decision row (the history), and publishes its event in the
same transaction. Content is editable (and the deliverable deletable) only while the agency
holds it: `draft` or `changes_requested`.

Who decides: a client user (role `client`) of the project's client, or an agency person with
`projects.write` recording the client's decision. Anyone else gets NotFound; a client user
never sees drafts, so a draft answers NotFound to them too.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.errors import Conflict, NotFound, PermissionDenied, field_error
from agencyos.common.events import (
    DeliverableApproved,
    DeliverableChangesRequested,
    DeliverableSubmitted,
)
from agencyos.common.outbox import publish
from agencyos.common.pagination import PageParams
from agencyos.common.permissions import Role
from agencyos.common.wording import with_article
from agencyos.work.audit_log import record_deleted
from agencyos.work.deliverable.repository import decision_repository, deliverable_repository
from agencyos.work.deliverable.schemas import DeliverableCreate, DeliverableUpdate
from agencyos.work.models import Deliverable, DeliverableDecision, Project
from agencyos.work.project.access import visible_project
from agencyos.work.project.repository import project_repository

SERVICE = "work"


class Action(StrEnum):
    SUBMIT = "submit"
    APPROVE = "approve"
    REQUEST_CHANGES = "request_changes"


@dataclass(frozen=True)
class Transition:
    sources: frozenset[str]
    target: str
    # What the history row records, and the event it publishes.
    decision: str
    event: type[DeliverableSubmitted | DeliverableApproved | DeliverableChangesRequested]


TRANSITIONS: dict[Action, Transition] = {
    Action.SUBMIT: Transition(
        frozenset({"draft", "changes_requested"}), "submitted", "submitted", DeliverableSubmitted
    ),
    Action.APPROVE: Transition(
        frozenset({"submitted"}), "approved", "approved", DeliverableApproved
    ),
    Action.REQUEST_CHANGES: Transition(
        frozenset({"submitted"}),
        "changes_requested",
        "changes_requested",
        DeliverableChangesRequested,
    ),
}
# The agency holds the deliverable: its content may change, or it may be deleted.
EDITABLE = frozenset({"draft", "changes_requested"})
# What a client user sees.
CLIENT_VISIBLE = ("submitted", "approved", "changes_requested")


class DeliverableStateConflict(Conflict):
    """The deliverable's status does not allow this (HTTP 409; gRPC callers get
    FAILED_PRECONDITION, see the servicer)."""


@dataclass(frozen=True)
class DeliverableView:
    deliverable: Deliverable
    project: Project


def _is_client_user(principal: Principal) -> bool:
    return principal.role == Role.CLIENT


async def client_project(
    session: AsyncSession, principal: Principal, project_id: uuid.UUID
) -> Project:
    """A client user's own client's project; any other answers NotFound."""
    project = await project_repository.get(session, project_id)
    if project is None or principal.client_id is None or project.client_id != principal.client_id:
        raise NotFound("no such project")
    return project


class DeliverableService:
    async def _visible(
        self,
        session: AsyncSession,
        principal: Principal,
        deliverable_id: uuid.UUID,
        *,
        lock: bool = False,
        for_delete: bool = False,
    ) -> DeliverableView:
        """The deliverable (locked when asked) if its project is visible to the caller."""
        if lock:
            deliverable = await deliverable_repository.lock(
                session, deliverable_id, for_delete=for_delete
            )
        else:
            deliverable = await deliverable_repository.get(session, deliverable_id)
        if deliverable is None:
            raise NotFound("no such deliverable")
        try:
            project = await visible_project(session, principal, deliverable.project_id)
        except NotFound as exc:
            raise NotFound("no such deliverable") from exc
        return DeliverableView(deliverable, project)

    async def _for_decision(
        self, session: AsyncSession, principal: Principal, deliverable_id: uuid.UUID
    ) -> DeliverableView:
        """The locked deliverable if the caller may decide on it (see the module docstring)."""
        if not _is_client_user(principal):
            if not principal.can("projects.write"):
                raise NotFound("no such deliverable")
            return await self._visible(session, principal, deliverable_id, lock=True)
        return await self._client_visible(session, principal, deliverable_id, lock=True)

    async def _client_visible(
        self,
        session: AsyncSession,
        principal: Principal,
        deliverable_id: uuid.UUID,
        *,
        lock: bool,
    ) -> DeliverableView:
        """A deliverable the client user's client sees (not a draft, of its own client's
        project); any other answers NotFound."""
        if lock:
            deliverable = await deliverable_repository.lock(session, deliverable_id)
        else:
            deliverable = await deliverable_repository.get(session, deliverable_id)
        if deliverable is None or deliverable.status not in CLIENT_VISIBLE:
            raise NotFound("no such deliverable")
        try:
            project = await client_project(session, principal, deliverable.project_id)
        except NotFound as exc:
            raise NotFound("no such deliverable") from exc
        return DeliverableView(deliverable, project)

    async def _transition(
        self,
        session: AsyncSession,
        principal: Principal,
        view: DeliverableView,
        action: Action,
        comment: str | None,
    ) -> DeliverableView:
        """The one place a deliverable's status changes; `view.deliverable` is locked."""
        deliverable, project = view.deliverable, view.project
        transition = TRANSITIONS[action]
        if deliverable.status not in transition.sources:
            allowed = " or ".join(sorted(transition.sources))
            raise DeliverableStateConflict(
                f"cannot {action.value.replace('_', ' ')} a deliverable that is "
                f"{deliverable.status.replace('_', ' ')} (only when {allowed})",
                extra={"current_status": deliverable.status},
            )
        now = utcnow()
        changes: dict[str, Any] = {"status": transition.target}
        if action == Action.SUBMIT:
            changes |= {"submitted_at": now, "decided_at": None}
        else:
            changes["decided_at"] = now
        await deliverable_repository.update(session, deliverable, changes)
        await decision_repository.create(
            session,
            DeliverableDecision(
                tenant_id=deliverable.tenant_id,
                id=uuid.uuid4(),
                deliverable_id=deliverable.id,
                decision=transition.decision,
                comment=comment,
                actor_id=principal.user_id,
                occurred_at=now,
            ),
        )
        await publish(
            session,
            transition.event(
                deliverable_id=deliverable.id,
                project_id=project.id,
                client_id=project.client_id,
                title=deliverable.title,
                actor_id=principal.user_id,
                comment=comment,
            ),
            source_service=SERVICE,
            subject=f"deliverables/{deliverable.id}",
        )
        return view

    # --- the agency's side ----------------------------------------------------------------

    async def create(
        self,
        session: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        data: DeliverableCreate,
    ) -> DeliverableView:
        principal.require("projects.write")
        project = await visible_project(session, principal, project_id)
        deliverable = Deliverable(
            tenant_id=principal.tenant_id,
            id=uuid.uuid4(),
            project_id=project.id,
            title=data.title,
            description=data.description,
            link_url=data.link_url,
            file_ref=data.file_ref,
            status="draft",
            # An API key is not a person.
            created_by=None if principal.api_key_id else principal.user_id,
        )
        await deliverable_repository.create(session, deliverable)
        return DeliverableView(deliverable, project)

    async def get(
        self, session: AsyncSession, principal: Principal, deliverable_id: uuid.UUID
    ) -> DeliverableView:
        """For staff, if they see its project; for a client user, if its client sees it."""
        if _is_client_user(principal):
            return await self._client_visible(session, principal, deliverable_id, lock=False)
        return await self._visible(session, principal, deliverable_id)

    async def list_deliverables(
        self,
        session: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        params: PageParams,
        *,
        status: str | None = None,
        sort: str = "created_at",
    ) -> tuple[Sequence[Deliverable], int]:
        project = await visible_project(session, principal, project_id)
        stmt = deliverable_repository.of_project(
            project.id, statuses=None if status is None else [status], sort=sort
        )
        return await deliverable_repository.paginate(
            session, stmt, page=params.page, per_page=params.per_page
        )

    async def update(
        self,
        session: AsyncSession,
        principal: Principal,
        deliverable_id: uuid.UUID,
        data: DeliverableUpdate,
    ) -> DeliverableView:
        principal.require("projects.write")
        view = await self._visible(session, principal, deliverable_id, lock=True)
        deliverable = view.deliverable
        sent: dict[str, Any] = data.model_dump(exclude_unset=True)
        if "title" in sent and sent["title"] is None:
            raise field_error("title", "title cannot be null")
        if deliverable.status not in EDITABLE:
            status = with_article(deliverable.status.replace("_", " "))
            raise DeliverableStateConflict(
                f"{status} deliverable cannot be edited (only while draft or changes requested)",
                extra={"current_status": deliverable.status},
            )
        changes = {k: v for k, v in sent.items() if getattr(deliverable, k) != v}
        if changes:
            await deliverable_repository.update(session, deliverable, changes)
        return view

    async def delete(
        self, session: AsyncSession, principal: Principal, deliverable_id: uuid.UUID
    ) -> None:
        principal.require("projects.write")
        view = await self._visible(session, principal, deliverable_id, lock=True, for_delete=True)
        deliverable = view.deliverable
        if deliverable.status not in EDITABLE:
            status = with_article(deliverable.status.replace("_", " "))
            raise DeliverableStateConflict(
                f"{status} deliverable cannot be deleted (only while draft or changes requested)",
                extra={"current_status": deliverable.status},
            )
        await session.delete(deliverable)
        await session.flush()
        await record_deleted(
            session,
            principal,
            "deliverable",
            deliverable.id,
            {"title": deliverable.title, "status": deliverable.status},
            {"project_id": str(deliverable.project_id)},
        )

    async def submit(
        self,
        session: AsyncSession,
        principal: Principal,
        deliverable_id: uuid.UUID,
        comment: str | None = None,
    ) -> DeliverableView:
        principal.require("projects.write")
        view = await self._visible(session, principal, deliverable_id, lock=True)
        return await self._transition(session, principal, view, Action.SUBMIT, comment)

    async def history(
        self,
        session: AsyncSession,
        principal: Principal,
        deliverable_id: uuid.UUID,
        params: PageParams,
    ) -> tuple[Sequence[DeliverableDecision], int]:
        view = await self._visible(session, principal, deliverable_id)
        return await decision_repository.paginate(
            session,
            decision_repository.history(view.deliverable.id),
            page=params.page,
            per_page=params.per_page,
        )

    # --- the client's decisions (gRPC for the portal; HTTP for agency staff) ---------------

    async def approve(
        self,
        session: AsyncSession,
        principal: Principal,
        deliverable_id: uuid.UUID,
        comment: str | None = None,
    ) -> DeliverableView:
        view = await self._for_decision(session, principal, deliverable_id)
        return await self._transition(session, principal, view, Action.APPROVE, comment)

    async def request_changes(
        self,
        session: AsyncSession,
        principal: Principal,
        deliverable_id: uuid.UUID,
        comment: str,
    ) -> DeliverableView:
        if not comment.strip():
            raise field_error("comment", "say what should change: comment is required")
        view = await self._for_decision(session, principal, deliverable_id)
        return await self._transition(
            session, principal, view, Action.REQUEST_CHANGES, comment.strip()
        )

    async def client_deliverables(
        self,
        session: AsyncSession,
        principal: Principal,
        project_id: uuid.UUID,
        *,
        status: str | None = None,
    ) -> Sequence[Deliverable]:
        """What the project's client sees: every deliverable but drafts (of `status` when
        given). For a client user of the project's client, or anyone who sees the project."""
        if _is_client_user(principal):
            project = await client_project(session, principal, project_id)
        else:
            project = await visible_project(session, principal, project_id)
        statuses = CLIENT_VISIBLE if status is None else (status,)
        stmt = deliverable_repository.of_project(project.id, statuses=statuses)
        return await deliverable_repository.all_of(session, stmt)

    async def clients_deliverables(
        self, session: AsyncSession, principal: Principal, *, status: str | None = None
    ) -> Sequence[Deliverable]:
        """A client user's deliverables across all its client's projects, but drafts (of
        `status` when given), oldest submission first. Only a client user may ask without
        naming a project: staff see many clients."""
        if not _is_client_user(principal):
            raise field_error("project_id", "project_id is required")
        if principal.client_id is None:
            raise PermissionDenied("this client user is bound to no client")
        statuses = CLIENT_VISIBLE if status is None else (status,)
        stmt = deliverable_repository.of_client(principal.client_id, statuses=statuses)
        return await deliverable_repository.all_of(session, stmt)


deliverable_service = DeliverableService()
