"""The business rules of rates: who may be given one, one rate per scope and day, history is
kept (a rate already in effect is superseded, never deleted), and resolution."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.errors import Conflict, InvalidInput, NotFound, field_problem
from agencyos.common.permissions import Role
from agencyos.common.wording import with_article
from agencyos.time.models import Rate
from agencyos.time.peers import Peers
from agencyos.time.rate.repository import rate_repository
from agencyos.time.rate.resolver import RateBook, ResolvedRate
from agencyos.time.rate.schemas import RateCreate, RateKind, RateScope

SERVICE = "time"
UNIQUE_INDEX = "uq_rates_scope_effective"

# Which targets each scope names (user_id, project_id).
_TARGETS: dict[RateScope, tuple[bool, bool]] = {
    RateScope.AGENCY: (False, False),
    RateScope.MEMBER: (True, False),
    RateScope.PROJECT: (False, True),
    RateScope.PROJECT_MEMBER: (True, True),
}


def _check_shape(data: RateCreate) -> None:
    """The scope names exactly its targets; cost rates are per person or agency-wide."""
    needs_user, needs_project = _TARGETS[data.scope]
    errors = []
    for field, needed, value in (
        ("user_id", needs_user, data.user_id),
        ("project_id", needs_project, data.project_id),
    ):
        if needed and value is None:
            errors.append(
                field_problem(field, f"{with_article(data.scope.value)} rate needs {field}")
            )
        elif not needed and value is not None:
            errors.append(
                field_problem(field, f"{with_article(data.scope.value)} rate takes no {field}")
            )
    if data.kind == RateKind.COST and data.scope not in (RateScope.AGENCY, RateScope.MEMBER):
        errors.append(field_problem("scope", "cost rates are agency-wide or per member only"))
    if errors:
        raise InvalidInput("the rate's scope and targets do not match", errors=errors)


def _scope_of(rate: Rate) -> dict[str, str | None]:
    """What a rate applies to, as the audit log names it."""
    return {
        "kind": rate.kind,
        "scope": rate.scope,
        "user_id": str(rate.user_id) if rate.user_id else None,
        "project_id": str(rate.project_id) if rate.project_id else None,
    }


class RateService:
    async def list_rates(
        self,
        session: AsyncSession,
        *,
        kind: RateKind | None,
        scope: RateScope | None,
        user_id: uuid.UUID | None,
        project_id: uuid.UUID | None,
        page: int,
        per_page: int,
    ) -> tuple[Sequence[Rate], int]:
        return await rate_repository.list_rates(
            session,
            kind=kind.value if kind else None,
            scope=scope.value if scope else None,
            user_id=user_id,
            project_id=project_id,
            page=page,
            per_page=per_page,
        )

    async def get(self, session: AsyncSession, rate_id: uuid.UUID) -> Rate:
        rate = await rate_repository.get(session, rate_id)
        if rate is None:
            raise NotFound("no such rate")
        return rate

    async def _check_targets(self, principal: Principal, data: RateCreate, peers: Peers) -> None:
        """The person is one of the agency's (not a client user) and the project one of its
        projects, as identity and work answer for the caller's agency."""
        errors = []
        if data.user_id is not None:
            person = (await peers.identity.members(principal, [data.user_id])).get(data.user_id)
            if person is None or person.role == Role.CLIENT:
                errors.append(field_problem("user_id", "user_id is not a member of this agency"))
        if data.project_id is not None:
            if await peers.work.project(principal, data.project_id) is None:
                errors.append(
                    field_problem("project_id", "project_id is not a project of this agency")
                )
        if errors:
            raise InvalidInput("the rate's targets are not in this agency", errors=errors)

    async def _same_scope_and_day(self, session: AsyncSession, data: RateCreate) -> Rate | None:
        stmt = select(Rate).where(
            *self._same_scope(data), Rate.effective_from == data.effective_from
        )
        return (await session.scalars(stmt)).first()

    async def _superseded(self, session: AsyncSession, data: RateCreate) -> Rate | None:
        """The rate of the same kind and scope that applies until the new one takes effect."""
        stmt = (
            select(Rate)
            .where(*self._same_scope(data), Rate.effective_from < data.effective_from)
            .order_by(Rate.effective_from.desc())
            .limit(1)
        )
        return (await session.scalars(stmt)).first()

    @staticmethod
    def _same_scope(data: RateCreate) -> tuple[ColumnElement[bool], ...]:
        return (
            Rate.kind == data.kind.value,
            Rate.scope == data.scope.value,
            Rate.user_id.is_(None) if data.user_id is None else Rate.user_id == data.user_id,
            Rate.project_id.is_(None)
            if data.project_id is None
            else Rate.project_id == data.project_id,
        )

    async def create(
        self, session: AsyncSession, principal: Principal, data: RateCreate, peers: Peers
    ) -> Rate:
        _check_shape(data)
        await self._check_targets(principal, data, peers)
        taken = await self._same_scope_and_day(session, data)
        if taken is not None:
            raise self._duplicate(taken.id)
        rate = Rate(
            tenant_id=principal.tenant_id,
            id=uuid.uuid4(),
            kind=data.kind.value,
            scope=data.scope.value,
            user_id=data.user_id,
            project_id=data.project_id,
            hourly_rate_cents=data.hourly_rate_cents,
            effective_from=data.effective_from,
            created_by=principal.user_id,
        )
        try:
            async with session.begin_nested():
                await rate_repository.create(session, rate)
        except IntegrityError as exc:
            # a concurrent request created the same scope and day first
            if UNIQUE_INDEX in str(exc.orig):
                raise self._duplicate(None) from exc
            raise
        await session.refresh(rate)
        superseded = await self._superseded(session, data)
        # The amount before is the one this rate supersedes (none for a scope's first rate).
        await record_audit(
            session,
            action="rate.created",
            entity_type="rate",
            entity_id=rate.id,
            actor=principal,
            source_service=SERVICE,
            before={"hourly_rate_cents": superseded.hourly_rate_cents} if superseded else None,
            after={
                "hourly_rate_cents": rate.hourly_rate_cents,
                "effective_from": rate.effective_from.isoformat(),
            },
            detail={
                **_scope_of(rate),
                "supersedes_rate_id": str(superseded.id) if superseded else None,
            },
        )
        return rate

    @staticmethod
    def _duplicate(existing: uuid.UUID | None) -> Conflict:
        return Conflict(
            "a rate of this kind and scope already takes effect on that date; delete it (if "
            "it is not yet in effect) or pick another date",
            extra={"rate_id": str(existing)} if existing else None,
        )

    async def delete(
        self, session: AsyncSession, principal: Principal, rate_id: uuid.UUID, peers: Peers
    ) -> None:
        """Only a rate that has not taken effect yet (in the agency's timezone): time may
        already be valued at a rate in effect, so its history stays and a new rate
        supersedes it."""
        rate = await self.get(session, rate_id)
        zone = await peers.timezone(principal)
        today = datetime.now(zone).date()
        if rate.effective_from <= today:
            raise Conflict(
                f"this rate has been in effect since {rate.effective_from.isoformat()} and is "
                "kept as history; add a rate with a later effective_from to supersede it"
            )
        await rate_repository.delete(session, rate)
        await record_audit(
            session,
            action="rate.deleted",
            entity_type="rate",
            entity_id=rate.id,
            actor=principal,
            source_service=SERVICE,
            before={
                "hourly_rate_cents": rate.hourly_rate_cents,
                "effective_from": rate.effective_from.isoformat(),
            },
            detail=_scope_of(rate),
        )

    async def resolve(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        on: date | None,
        peers: Peers,
    ) -> tuple[date, str, ResolvedRate, ResolvedRate]:
        """The billable and cost rate of `user_id`'s time on `project_id` on day `on`
        (default: today in the agency's timezone), and the project's currency."""
        project = await peers.work.project(principal, project_id)
        if project is None:
            raise NotFound("no such project")
        if on is None:
            on = datetime.now(await peers.timezone(principal)).date()
        book = await RateBook.load(session, [user_id], [project_id])
        billable = book.billable(user_id, project_id, on, project.hourly_rate_cents)
        return on, project.currency, billable, book.cost(user_id, on)


rate_service = RateService()
