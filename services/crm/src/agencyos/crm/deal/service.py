"""Deals: create, read, list, edit, delete; the stage state machine (open → won / lost and
back) with its events; the kanban board and the forecast. Services never commit: the edge
owns the transaction, so a deal, its timeline entry and its events commit together.

Locking (see pipeline.service for the whole order): a move locks the rows of the stages the
deal leaves and enters, in id order, so one mover at a time writes a column's order (also when
it renumbers the column), and a stage cannot be deleted or change kind under a deal arriving;
then the deal row (SELECT ... FOR UPDATE), so two concurrent moves of one deal run one after
the other and only the first to reach a won stage publishes `crm.deal.won`. Creating a deal
locks only its stage (it holds no other deal's lock).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.errors import Conflict, InvalidInput, NotFound, field_error
from agencyos.common.events import DealLost, DealStageChanged, DealWon
from agencyos.common.outbox import publish
from agencyos.common.pagination import PageParams
from agencyos.common.peers.identity import IdentityClient
from agencyos.common.peers.work import WorkClient
from agencyos.common.positions import POSITION_STEP, between
from agencyos.crm.client.service import client_service
from agencyos.crm.deal.events import publish_assigned, publish_deleted
from agencyos.crm.deal.repository import (
    DealFilters,
    DealRow,
    deal_repository,
)
from agencyos.crm.deal.schemas import DealCreate, DealMove, DealUpdate
from agencyos.crm.models import Client, Deal, Pipeline, Stage
from agencyos.crm.pipeline.repository import stage_repository
from agencyos.crm.pipeline.service import pipeline_service
from agencyos.crm.timeline.repository import timeline_repository
from agencyos.crm.timeline.titles import money

SERVICE = "crm"
TIMELINE_TITLE_MAX = 300
ROUNDING = "half-up per deal (value_cents x probability / 100), then summed"


def _title(text: str) -> str:
    return text if len(text) <= TIMELINE_TITLE_MAX else text[: TIMELINE_TITLE_MAX - 1] + "…"


def weighted(value_cents: int, probability: int) -> int:
    """value x probability / 100, half up (integers, value >= 0): the forecast's rounding."""
    return (value_cents * probability + 50) // 100


@dataclass(frozen=True)
class BoardColumn:
    stage: Stage
    count: int
    totals: list[tuple[str, int, int]]  # currency, count, value
    deals: list[DealRow]


@dataclass(frozen=True)
class BoardView:
    pipeline: Pipeline
    columns: list[BoardColumn]


@dataclass(frozen=True)
class ForecastView:
    groups: list[tuple[str | None, str | None, str, int, int, int]]
    totals: list[tuple[str, int, int, int]]  # currency, count, value, weighted


class DealService:
    # --- reading ------------------------------------------------------------------------------

    async def get(self, session: AsyncSession, deal_id: uuid.UUID) -> DealRow:
        row = await deal_repository.get_row(session, deal_id)
        if row is None:
            raise NotFound("no such deal")
        return row

    async def list_deals(
        self, session: AsyncSession, filters: DealFilters, *, sort: str, params: PageParams
    ) -> tuple[list[DealRow], int]:
        return await deal_repository.page_rows(
            session, filters, sort=sort, page=params.page, per_page=params.per_page
        )

    async def stage_filter(
        self, session: AsyncSession, ref: str
    ) -> tuple[uuid.UUID | None, str | None]:
        """The `stage` list filter: a stage id (another agency's: 404) or a stage name (in
        any pipeline, unless the list is narrowed to one)."""
        try:
            stage_id = uuid.UUID(ref.strip())
        except ValueError:
            return None, ref.strip()
        if await stage_repository.get(session, stage_id) is None:
            raise NotFound("no such stage")
        return stage_id, None

    async def board(
        self,
        session: AsyncSession,
        principal: Principal,
        pipeline_id: uuid.UUID | None,
        filters: DealFilters,
        *,
        per_stage: int,
    ) -> BoardView:
        if pipeline_id is None:
            pipeline = await pipeline_service.ensure_default(session, principal.tenant_id)
        else:
            pipeline = await pipeline_service.get_pipeline(session, pipeline_id)
        stages = await pipeline_service.stages_of(session, pipeline.id)
        totals: dict[uuid.UUID, list[tuple[str, int, int]]] = {}
        for stage_id, currency, count, value in await deal_repository.stage_totals(
            session, pipeline.id, filters
        ):
            totals.setdefault(stage_id, []).append((currency, count, value))
        columns = []
        for stage in stages:
            stage_totals = totals.get(stage.id, [])
            count = sum(c for _, c, _ in stage_totals)
            deals = (
                await deal_repository.column(session, stage.id, filters, limit=per_stage)
                if count
                else []
            )
            columns.append(BoardColumn(stage, count, stage_totals, deals))
        return BoardView(pipeline, columns)

    async def forecast(
        self,
        session: AsyncSession,
        group_by: str,
        *,
        pipeline_id: uuid.UUID | None,
        date_from: date | None,
        date_to: date | None,
    ) -> ForecastView:
        if pipeline_id is not None:
            await pipeline_service.get_pipeline(session, pipeline_id)
        groups = await deal_repository.forecast(
            session, group_by, pipeline_id=pipeline_id, date_from=date_from, date_to=date_to
        )
        sums: dict[str, list[int]] = {}
        for _, _, currency, count, value, weighted_value in groups:
            total = sums.setdefault(currency, [0, 0, 0])
            total[0] += count
            total[1] += value
            total[2] += weighted_value
        return ForecastView(
            groups=groups,
            totals=[(c, sums[c][0], sums[c][1], sums[c][2]) for c in sorted(sums)],
        )

    # --- creating and editing ---------------------------------------------------------------

    async def _ensure_assignee(
        self, principal: Principal, user_id: uuid.UUID, identity: IdentityClient
    ) -> None:
        if not await identity.is_active_member(principal, user_id):
            raise field_error("assigned_to", "assigned_to is not an active member of this agency")

    async def _ensure_template(
        self, principal: Principal, template_id: uuid.UUID, work: WorkClient
    ) -> None:
        if await work.project_template(principal, template_id) is None:
            raise field_error(
                "template_id", "template_id is not a project template of this agency", "not_found"
            )

    async def _new_client(
        self,
        session: AsyncSession,
        principal: Principal,
        data: DealCreate,
        identity: IdentityClient,
    ) -> Client:
        assert data.client is not None
        try:
            return await client_service.create(session, principal, data.client, identity)
        except InvalidInput as exc:
            # The client's fields sit under `client` in this body.
            if exc.errors:
                exc.errors = [{**e, "field": f"client.{e.get('field', '')}"} for e in exc.errors]
            raise

    async def create(
        self,
        session: AsyncSession,
        principal: Principal,
        data: DealCreate,
        identity: IdentityClient,
        work: WorkClient,
    ) -> DealRow:
        if (data.client_id is None) == (data.client is None):
            message = "send exactly one of client_id (an existing client) or client (a new one)"
            raise InvalidInput(
                message,
                errors=[
                    {"field": "client_id", "message": message, "type": "one_of"},
                    {"field": "client", "message": message, "type": "one_of"},
                ],
            )
        if data.pipeline_id is not None:
            pipeline = await pipeline_service.get_pipeline(session, data.pipeline_id)
        else:
            pipeline = await pipeline_service.ensure_default(session, principal.tenant_id)
        if data.stage is not None:
            stage = await pipeline_service.resolve_stage(session, pipeline.id, data.stage)
            if stage.kind != "open":
                raise field_error(
                    "stage",
                    "a deal starts in an open stage; move it to a won or lost stage afterwards",
                )
        else:
            open_stages = [
                s
                for s in await pipeline_service.stages_of(session, pipeline.id)
                if s.kind == "open"
            ]
            stage = open_stages[0]  # a pipeline always keeps an open stage
        client: Client | None
        if data.client_id is not None:
            client = await deal_repository.get_client(session, data.client_id)
            if client is None:
                raise NotFound("no such client")
        else:
            client = None
        currency = data.currency or (
            client.currency if client else (data.client.currency if data.client else None)
        )
        if currency is None:
            raise field_error(
                "currency", "currency is required: the client has no currency", "missing"
            )
        # Omitted: the creator (a person); an API key is nobody. Explicit null: unassigned.
        if "assigned_to" in data.model_fields_set:
            assigned_to = data.assigned_to
        else:
            assigned_to = None if principal.api_key_id else principal.user_id
        if assigned_to is not None:
            await self._ensure_assignee(principal, assigned_to, identity)
        if data.template_id is not None:
            await self._ensure_template(principal, data.template_id, work)
        if client is None:
            client = await self._new_client(session, principal, data, identity)

        # Lock the stage: new deals go to the bottom of its column, one writer at a time.
        locked = await stage_repository.lock_for_deals(session, stage.id)
        if locked is None:
            raise NotFound("no such stage")
        if locked.kind != "open":  # its kind changed while we were looking
            raise Conflict("the stage is no longer an open stage: reload and try again")
        deal_id = uuid.uuid4()
        above, _ = await deal_repository.neighbours(session, stage.id, deal_id)
        deal = Deal(
            tenant_id=principal.tenant_id,
            id=deal_id,
            pipeline_id=pipeline.id,
            stage_id=stage.id,
            client_id=client.id,
            title=data.title,
            value_cents=data.value_cents,
            currency=currency,
            probability=data.probability,
            expected_close_date=data.expected_close_date,
            assigned_to=assigned_to,
            description=data.description,
            position=(above + POSITION_STEP) if above is not None else POSITION_STEP,
            template_id=data.template_id,
            created_by=principal.user_id,
        )
        await deal_repository.create(session, deal)
        if assigned_to is not None:
            await publish_assigned(session, deal, principal.user_id)
        await timeline_repository.add(
            session,
            tenant_id=principal.tenant_id,
            client_id=client.id,
            kind="deal_created",
            title=_title(
                f"Deal {deal.title} created in {stage.name} ({money(deal.value_cents, currency)})"
            ),
            occurred_at=deal.created_at or utcnow(),
            actor_id=principal.user_id,
            data={
                "deal_id": str(deal.id),
                "stage_id": str(stage.id),
                "stage": stage.name,
                "value_cents": deal.value_cents,
                "currency": currency,
            },
        )
        return await self.get(session, deal.id)

    async def update(
        self,
        session: AsyncSession,
        principal: Principal,
        deal_id: uuid.UUID,
        data: DealUpdate,
        identity: IdentityClient,
        work: WorkClient,
    ) -> DealRow:
        deal = await deal_repository.lock(session, deal_id)
        if deal is None:
            raise NotFound("no such deal")
        sent: dict[str, Any] = data.model_dump(exclude_unset=True)
        for required in ("title", "value_cents", "currency"):
            if required in sent and sent[required] is None:
                raise field_error(required, f"{required} cannot be null")
        if sent.get("assigned_to") is not None and sent["assigned_to"] != deal.assigned_to:
            await self._ensure_assignee(principal, sent["assigned_to"], identity)
        if sent.get("template_id") is not None and sent["template_id"] != deal.template_id:
            await self._ensure_template(principal, sent["template_id"], work)
        changes = {k: v for k, v in sent.items() if getattr(deal, k) != v}
        if changes:
            await deal_repository.update(session, deal, changes)
        # A new assignee is told; an unchanged or cleared one is not.
        if changes.get("assigned_to") is not None:
            await publish_assigned(session, deal, principal.user_id)
        return await self.get(session, deal_id)

    async def delete(self, session: AsyncSession, principal: Principal, deal_id: uuid.UUID) -> None:
        """Delete a deal that has no project; `crm.deal.deleted` goes out with it."""
        deal = await deal_repository.lock(session, deal_id)
        if deal is None:
            raise NotFound("no such deal")
        if deal.project_id is not None:
            raise Conflict("the deal has a project: it stays as the project's origin")
        await publish_deleted(session, deal, principal.user_id)
        await record_audit(
            session,
            action="deal.deleted",
            entity_type="deal",
            entity_id=deal.id,
            actor=principal,
            source_service=SERVICE,
            before={
                "title": deal.title,
                "value_cents": deal.value_cents,
                "currency": deal.currency,
                "stage_id": str(deal.stage_id),
            },
            detail={"client_id": str(deal.client_id), "pipeline_id": str(deal.pipeline_id)},
        )
        await session.execute(
            delete(Deal).where(Deal.id == deal.id).execution_options(synchronize_session=False)
        )
        session.expunge(deal)

    # --- moving: kanban order and the stage state machine ------------------------------------

    async def _position(
        self,
        session: AsyncSession,
        deal: Deal,
        stage_id: uuid.UUID,
        *,
        index: int | None,
        before_id: uuid.UUID | None,
        after_id: uuid.UUID | None,
    ) -> float:
        """A position between the target's neighbours; when they are too close, the column is
        renumbered once (the only time a move writes more than the deal's row)."""
        for _ in range(2):
            above, below = await deal_repository.neighbours(
                session, stage_id, deal.id, index=index, before_id=before_id, after_id=after_id
            )
            position = between(above, below)
            if position is not None:
                return position
            await deal_repository.renumber(session, stage_id)
            await session.refresh(deal)
        raise RuntimeError("no room between two deals even after renumbering")  # pragma: no cover

    async def _anchor(
        self, session: AsyncSession, deal: Deal, anchor_id: uuid.UUID, stage: Stage, field: str
    ) -> None:
        if anchor_id == deal.id:
            raise field_error(field, f"{field} is the deal being moved")
        anchor = await deal_repository.get(session, anchor_id)
        if anchor is None:
            raise NotFound("no such deal")
        if anchor.stage_id != stage.id:
            raise field_error(field, f"{field} is not a deal of the target stage")

    async def move(
        self, session: AsyncSession, principal: Principal, deal_id: uuid.UUID, data: DealMove
    ) -> DealRow:
        placing = [
            name
            for name in ("position", "before_id", "after_id")
            if getattr(data, name) is not None
        ]
        if len(placing) > 1:
            message = "send at most one of position, before_id and after_id"
            raise InvalidInput(
                message,
                errors=[{"field": f, "message": message, "type": "one_of"} for f in placing],
            )
        placed = await deal_repository.placement_of(session, deal_id)
        if placed is None:
            raise NotFound("no such deal")
        pipeline_id, current_stage_id = placed
        target = await pipeline_service.resolve_stage(session, pipeline_id, data.stage)
        # Lock order: the stages the deal leaves and enters (by id), then the deal.
        for locking_id in sorted({current_stage_id, target.id}):
            locked = await stage_repository.lock_for_deals(session, locking_id)
            if locked is None:
                raise NotFound("no such stage")
            if locked.id == target.id:
                target = locked
        deal = await deal_repository.lock(session, deal_id)
        if deal is None:
            raise NotFound("no such deal")
        if deal.stage_id not in (current_stage_id, target.id):
            raise Conflict("the deal was moved meanwhile: reload it and try again")
        source = await stage_repository.get(session, deal.stage_id)
        assert source is not None  # a composite foreign key holds it
        if data.before_id is not None:
            await self._anchor(session, deal, data.before_id, target, "before_id")
        if data.after_id is not None:
            await self._anchor(session, deal, data.after_id, target, "after_id")
        stage_changes = target.id != deal.stage_id
        becomes_lost = target.kind == "lost" and source.kind != "lost"
        if data.lost_reason is not None and target.kind != "lost":
            raise field_error("lost_reason", "lost_reason is only for a move to a lost stage")
        if becomes_lost and data.lost_reason is None:
            raise field_error(
                "lost_reason", "lost_reason is required to move a deal to a lost stage", "missing"
            )

        if stage_changes or placing:
            deal.position = await self._position(
                session,
                deal,
                target.id,
                index=data.position,
                before_id=data.before_id,
                after_id=data.after_id,
            )
        if data.lost_reason is not None:
            deal.lost_reason = data.lost_reason
        if stage_changes:
            await self._change_stage(session, principal, deal, source, target)
        await session.flush()
        return await self.get(session, deal.id)

    async def _change_stage(
        self,
        session: AsyncSession,
        principal: Principal,
        deal: Deal,
        source: Stage,
        target: Stage,
    ) -> None:
        """The deal's state machine. Entering won or lost (from another kind) closes the deal
        and announces it; entering an open stage reopens it; moving between two stages of the
        same closed kind keeps its closing. Every change publishes `crm.deal.stage_changed`."""
        now = utcnow()
        deal.stage_id = target.id
        won = target.kind == "won" and source.kind != "won"
        lost = target.kind == "lost" and source.kind != "lost"
        if won:
            deal.closed_at = now
            deal.lost_reason = None
        elif lost:
            deal.closed_at = now
        elif target.kind == "open":
            deal.closed_at = None
            deal.lost_reason = None
        await session.flush()

        subject = f"deals/{deal.id}"
        await publish(
            session,
            DealStageChanged(
                deal_id=deal.id,
                client_id=deal.client_id,
                title=deal.title,
                pipeline_id=deal.pipeline_id,
                from_stage_id=source.id,
                from_stage=source.name,
                to_stage_id=target.id,
                to_stage=target.name,
                to_stage_kind=target.kind,
                value_cents=deal.value_cents,
                currency=deal.currency,
                changed_by=principal.user_id,
            ),
            source_service=SERVICE,
            subject=subject,
        )
        timeline: dict[str, Any] = {
            "deal_id": str(deal.id),
            "from_stage_id": str(source.id),
            "from_stage": source.name,
            "to_stage_id": str(target.id),
            "to_stage": target.name,
            "value_cents": deal.value_cents,
            "currency": deal.currency,
        }
        body = None
        if won:
            client = await deal_repository.get_client(session, deal.client_id)
            assert client is not None
            await publish(
                session,
                DealWon(
                    deal_id=deal.id,
                    title=deal.title,
                    description=deal.description,
                    client_id=deal.client_id,
                    client_name=client.company_name,
                    value_cents=deal.value_cents,
                    currency=deal.currency,
                    template_id=deal.template_id,
                    assigned_to=deal.assigned_to,
                    expected_close_date=deal.expected_close_date,
                    won_at=now,
                    won_by=principal.user_id,
                ),
                source_service=SERVICE,
                subject=subject,
            )
            kind = "deal_won"
            title = f"Deal {deal.title} won ({money(deal.value_cents, deal.currency)})"
        elif lost:
            assert deal.lost_reason is not None
            await publish(
                session,
                DealLost(
                    deal_id=deal.id,
                    client_id=deal.client_id,
                    title=deal.title,
                    value_cents=deal.value_cents,
                    currency=deal.currency,
                    lost_reason=deal.lost_reason,
                    lost_at=now,
                    lost_by=principal.user_id,
                    assigned_to=deal.assigned_to,
                ),
                source_service=SERVICE,
                subject=subject,
            )
            kind = "deal_lost"
            title = f"Deal {deal.title} lost"
            body = deal.lost_reason
            timeline["lost_reason"] = deal.lost_reason
        else:
            kind = "deal_stage_changed"
            title = f"Deal {deal.title} moved from {source.name} to {target.name}"
        await timeline_repository.add(
            session,
            tenant_id=deal.tenant_id,
            client_id=deal.client_id,
            kind=kind,
            title=_title(title),
            body=body,
            occurred_at=now,
            actor_id=principal.user_id,
            data=timeline,
        )

    # --- from work's events -------------------------------------------------------------------

    async def link_project(
        self,
        session: AsyncSession,
        *,
        deal_id: uuid.UUID,
        project_id: uuid.UUID,
        project_name: str,
        event_id: uuid.UUID,
        occurred_at: datetime,
    ) -> bool:
        """Set the deal's project and note it on the client's timeline; False when the deal
        is gone (deleted meanwhile: nothing to link)."""
        deal = await deal_repository.lock(session, deal_id)
        if deal is None:
            return False
        if deal.project_id != project_id:
            await deal_repository.update(session, deal, {"project_id": project_id})
        await timeline_repository.add(
            session,
            tenant_id=deal.tenant_id,
            client_id=deal.client_id,
            kind="project_created",
            title=_title(f"Project {project_name} created from deal {deal.title}"),
            occurred_at=occurred_at,
            data={"deal_id": str(deal.id), "project_id": str(project_id), "name": project_name},
            source_event_id=event_id,
        )
        return True


deal_service = DealService()
