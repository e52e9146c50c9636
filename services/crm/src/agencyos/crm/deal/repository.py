"""SQL for deals: reads joined with their stage and client, kanban order, the forecast."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Date,
    String,
    and_,
    case,
    cast,
    func,
    literal,
    select,
    tuple_,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.common.positions import POSITION_STEP
from agencyos.crm.models import Client, Deal, Stage

# Kanban positions: new deals go one step below the last; a move takes the midpoint of its
# neighbours; when neighbours are closer than MIN_GAP the stage is renumbered in steps.


@dataclass(frozen=True)
class DealRow:
    """A deal with what every read shows next to it."""

    deal: Deal
    stage_name: str
    stage_kind: str
    stage_probability: int
    client_name: str

    @property
    def probability(self) -> int:
        """The deal's override counts only while it is open: a won deal is certain."""
        if self.stage_kind == "open" and self.deal.probability is not None:
            return self.deal.probability
        return self.stage_probability


def effective_probability() -> ColumnElement[int]:
    return case(
        (and_(Stage.kind == "open", Deal.probability.is_not(None)), Deal.probability),
        else_=Stage.probability,
    )


def weighted_cents(value: Any, probability: Any) -> Any:
    """value x probability / 100 rounded half up, in integer arithmetic (values are >= 0)."""
    return (value * probability + 50) // 100


@dataclass(frozen=True)
class DealFilters:
    pipeline_id: uuid.UUID | None = None
    stage_id: uuid.UUID | None = None
    stage_name: str | None = None
    status: str | None = None
    assigned_to: uuid.UUID | None = None
    client_id: uuid.UUID | None = None
    q: str | None = None
    date_field: str = "created_at"
    date_from: date | None = None
    date_to: date | None = None


_SORTS: dict[str, Any] = {
    "created_at": Deal.created_at,
    "updated_at": Deal.updated_at,
    "value_cents": Deal.value_cents,
    "expected_close_date": Deal.expected_close_date,
    "title": func.lower(Deal.title),
}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class DealRepository(Repository[Deal]):
    model = Deal

    def _rows_query(self) -> Any:
        return (
            select(Deal, Stage.name, Stage.kind, Stage.probability, Client.company_name)
            .join(Stage, and_(Stage.tenant_id == Deal.tenant_id, Stage.id == Deal.stage_id))
            .join(Client, and_(Client.tenant_id == Deal.tenant_id, Client.id == Deal.client_id))
        )

    @staticmethod
    def _row(result: Any) -> DealRow:
        deal, stage_name, stage_kind, stage_probability, client_name = result
        return DealRow(deal, stage_name, stage_kind, stage_probability, client_name)

    async def get_row(self, session: AsyncSession, deal_id: uuid.UUID) -> DealRow | None:
        stmt = self._rows_query().where(Deal.id == deal_id)
        stmt = stmt.execution_options(populate_existing=True)
        result = (await session.execute(stmt)).first()
        return self._row(result) if result is not None else None

    async def placement_of(
        self, session: AsyncSession, deal_id: uuid.UUID
    ) -> tuple[uuid.UUID, uuid.UUID] | None:
        """(pipeline id, stage id) of the deal, read without a lock."""
        stmt = select(Deal.pipeline_id, Deal.stage_id).where(Deal.id == deal_id)
        row = (await session.execute(stmt)).first()
        return (row[0], row[1]) if row is not None else None

    async def lock(self, session: AsyncSession, deal_id: uuid.UUID) -> Deal | None:
        """The deal, re-read and row-locked (SELECT … FOR UPDATE) for a state change."""
        stmt = (
            select(Deal)
            .where(Deal.id == deal_id)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def get_client(self, session: AsyncSession, client_id: uuid.UUID) -> Client | None:
        return (
            await session.execute(select(Client).where(Client.id == client_id))
        ).scalar_one_or_none()

    # --- lists -------------------------------------------------------------------------------

    def filtered(self, stmt: Any, filters: DealFilters) -> Any:
        f = filters
        if f.pipeline_id is not None:
            stmt = stmt.where(Deal.pipeline_id == f.pipeline_id)
        if f.stage_id is not None:
            stmt = stmt.where(Deal.stage_id == f.stage_id)
        if f.stage_name is not None:
            stmt = stmt.where(func.lower(Stage.name) == f.stage_name.lower())
        if f.status is not None:
            stmt = stmt.where(Stage.kind == f.status)
        if f.assigned_to is not None:
            stmt = stmt.where(Deal.assigned_to == f.assigned_to)
        if f.client_id is not None:
            stmt = stmt.where(Deal.client_id == f.client_id)
        if f.q:
            stmt = stmt.where(Deal.title.ilike(f"%{_escape_like(f.q)}%", escape="\\"))
        if f.date_field == "expected_close_date":
            if f.date_from is not None:
                stmt = stmt.where(Deal.expected_close_date >= f.date_from)
            if f.date_to is not None:
                stmt = stmt.where(Deal.expected_close_date <= f.date_to)
        else:
            # Dates are whole UTC days: `to` includes the day.
            day = cast(func.timezone("UTC", Deal.created_at), Date)
            if f.date_from is not None:
                stmt = stmt.where(day >= f.date_from)
            if f.date_to is not None:
                stmt = stmt.where(day <= f.date_to)
        return stmt

    async def page_rows(
        self,
        session: AsyncSession,
        filters: DealFilters,
        *,
        sort: str,
        page: int,
        per_page: int,
    ) -> tuple[list[DealRow], int]:
        stmt = self.filtered(self._rows_query(), filters)
        total = (
            await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
        ).scalar_one()
        column = _SORTS[sort.lstrip("-")]
        ordering = column.desc().nulls_last() if sort.startswith("-") else column.asc().nulls_last()
        stmt = stmt.order_by(ordering, Deal.id).limit(per_page).offset((page - 1) * per_page)
        rows = (await session.execute(stmt)).all()
        return [self._row(r) for r in rows], int(total)

    # --- kanban ------------------------------------------------------------------------------

    async def column(
        self, session: AsyncSession, stage_id: uuid.UUID, filters: DealFilters, *, limit: int
    ) -> list[DealRow]:
        stmt = self.filtered(self._rows_query().where(Deal.stage_id == stage_id), filters)
        stmt = stmt.order_by(Deal.position, Deal.id).limit(limit)
        return [self._row(r) for r in (await session.execute(stmt)).all()]

    async def stage_totals(
        self, session: AsyncSession, pipeline_id: uuid.UUID, filters: DealFilters
    ) -> list[tuple[uuid.UUID, str, int, int]]:
        """(stage id, currency, count, value) for every stage of the pipeline with deals."""
        base = (
            select(Deal.stage_id, Deal.currency, func.count(), func.sum(Deal.value_cents))
            .join(Stage, and_(Stage.tenant_id == Deal.tenant_id, Stage.id == Deal.stage_id))
            .where(Deal.pipeline_id == pipeline_id)
        )
        stmt = self.filtered(base, filters).group_by(Deal.stage_id, Deal.currency)
        stmt = stmt.order_by(Deal.stage_id, Deal.currency)
        return [
            (stage_id, currency, int(count), int(total))
            for stage_id, currency, count, total in (await session.execute(stmt)).all()
        ]

    async def neighbours(
        self,
        session: AsyncSession,
        stage_id: uuid.UUID,
        moving_id: uuid.UUID,
        *,
        index: int | None = None,
        before_id: uuid.UUID | None = None,
        after_id: uuid.UUID | None = None,
    ) -> tuple[float | None, float | None]:
        """The positions just above and just below where the moving deal goes in the stage's
        column (None: the column's edge). `before_id`/`after_id` name a deal of the column to
        go right above/below; `index` a 0-based place; none of them: the bottom."""
        others = select(Deal.position).where(Deal.stage_id == stage_id, Deal.id != moving_id)
        key = tuple_(Deal.position, Deal.id)
        anchor_id = before_id or after_id
        if anchor_id is not None:
            anchor_position = (
                await session.execute(select(Deal.position).where(Deal.id == anchor_id))
            ).scalar_one()
            anchor = tuple_(literal(anchor_position), literal(anchor_id))
            if before_id is not None:
                above = await session.execute(
                    others.where(key < anchor)
                    .order_by(Deal.position.desc(), Deal.id.desc())
                    .limit(1)
                )
                return above.scalar_one_or_none(), anchor_position
            below = await session.execute(
                others.where(key > anchor).order_by(Deal.position, Deal.id).limit(1)
            )
            return anchor_position, below.scalar_one_or_none()
        if index == 0:
            top = await session.execute(others.order_by(Deal.position, Deal.id).limit(1))
            return None, top.scalar_one_or_none()
        if index is not None:
            # The deals at index - 1 and index (in the column without the moving deal).
            pair = (
                (
                    await session.execute(
                        others.order_by(Deal.position, Deal.id).offset(index - 1).limit(2)
                    )
                )
                .scalars()
                .all()
            )
            if pair:
                return pair[0], (pair[1] if len(pair) > 1 else None)
        # The bottom of the column (also for an index past its end).
        last = await session.execute(
            select(func.max(Deal.position)).where(Deal.stage_id == stage_id, Deal.id != moving_id)
        )
        return last.scalar_one_or_none(), None

    async def renumber(self, session: AsyncSession, stage_id: uuid.UUID) -> None:
        """Spread a column's positions out again (POSITION_STEP apart), keeping its order."""
        ranked = (
            select(
                Deal.tenant_id,
                Deal.id,
                func.row_number().over(order_by=(Deal.position, Deal.id)).label("rank"),
            )
            .where(Deal.stage_id == stage_id)
            .subquery()
        )
        await session.execute(
            update(Deal)
            .where(Deal.tenant_id == ranked.c.tenant_id, Deal.id == ranked.c.id)
            .values(position=ranked.c.rank * POSITION_STEP)
            .execution_options(synchronize_session=False)
        )

    # --- forecast ----------------------------------------------------------------------------

    async def forecast(
        self,
        session: AsyncSession,
        group_by: str,
        *,
        pipeline_id: uuid.UUID | None,
        date_from: date | None,
        date_to: date | None,
    ) -> list[tuple[str | None, str | None, str, int, int, int]]:
        """(key, label, currency, count, value, weighted) per group and currency, over open
        deals; the weighted value is rounded per deal, then summed."""
        probability = effective_probability()
        weighted = weighted_cents(Deal.value_cents, probability)
        if group_by == "month":
            key: Any = func.to_char(Deal.expected_close_date, "YYYY-MM")
            label: Any = key
            group: list[Any] = [key]
            order: list[Any] = [key.asc().nulls_last()]
        elif group_by == "stage":
            key = cast(Stage.id, String)
            label = Stage.name
            group = [Stage.id, Stage.name, Stage.pipeline_id, Stage.position]
            order = [Stage.pipeline_id, Stage.position, Stage.id]
        else:
            key = cast(Deal.assigned_to, String)
            label = key
            group = [Deal.assigned_to]
            order = [Deal.assigned_to.asc().nulls_last()]
        stmt = (
            select(
                key,
                label,
                Deal.currency,
                func.count(),
                func.sum(Deal.value_cents),
                func.sum(weighted),
            )
            .join(Stage, and_(Stage.tenant_id == Deal.tenant_id, Stage.id == Deal.stage_id))
            .where(Stage.kind == "open")
        )
        if pipeline_id is not None:
            stmt = stmt.where(Deal.pipeline_id == pipeline_id)
        if date_from is not None:
            stmt = stmt.where(Deal.expected_close_date >= date_from)
        if date_to is not None:
            stmt = stmt.where(Deal.expected_close_date <= date_to)
        stmt = stmt.group_by(*group, Deal.currency).order_by(*order, Deal.currency)
        return [
            (k, lbl, currency, int(count), int(value), int(weighted_sum))
            for k, lbl, currency, count, value, weighted_sum in (await session.execute(stmt)).all()
        ]


deal_repository = DealRepository()
