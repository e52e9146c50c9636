"""All SQL of rules and runs (row-level security scopes each query to the agency)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository, set_local
from agencyos.notification.models import (
    AutomationRule,
    AutomationRun,
    AutomationRunStatus,
)
from agencyos.notification.models.automation import AUTOMATION_WORKER_SETTING


class RuleRepository(Repository[AutomationRule]):
    model = AutomationRule

    async def page(
        self,
        session: AsyncSession,
        *,
        trigger: str | None,
        enabled: bool | None,
        page: int,
        per_page: int,
    ) -> tuple[Sequence[AutomationRule], int]:
        stmt = select(AutomationRule).order_by(AutomationRule.created_at, AutomationRule.id)
        if trigger is not None:
            stmt = stmt.where(AutomationRule.trigger == trigger)
        if enabled is not None:
            stmt = stmt.where(AutomationRule.enabled.is_(enabled))
        return await self.paginate(session, stmt, page=page, per_page=per_page)

    async def enabled_for(self, session: AsyncSession, trigger: str) -> Sequence[AutomationRule]:
        stmt = (
            select(AutomationRule)
            .where(AutomationRule.trigger == trigger, AutomationRule.enabled.is_(True))
            .order_by(AutomationRule.created_at, AutomationRule.id)
        )
        return (await session.scalars(stmt)).all()

    async def by_recipe(self, session: AsyncSession) -> dict[str, AutomationRule]:
        rows = await session.scalars(
            select(AutomationRule).where(AutomationRule.recipe.is_not(None))
        )
        return {row.recipe: row for row in rows if row.recipe is not None}


class RunRepository(Repository[AutomationRun]):
    model = AutomationRun

    async def page(
        self, session: AsyncSession, rule_id: uuid.UUID, *, page: int, per_page: int
    ) -> tuple[Sequence[AutomationRun], int]:
        stmt = (
            select(AutomationRun)
            .where(AutomationRun.rule_id == rule_id)
            .order_by(AutomationRun.started_at.desc(), AutomationRun.id.desc())
        )
        return await self.paginate(session, stmt, page=page, per_page=per_page)

    async def insert_once(self, session: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
        """A new run, unless this rule already has one for this event (None then)."""
        stmt = (
            insert(AutomationRun)
            .values(**values)
            .on_conflict_do_nothing(constraint="automation_run_once")
            .returning(AutomationRun.id)
        )
        row = (await session.execute(stmt)).first()
        return row[0] if row is not None else None

    async def due_everywhere(
        self, session: AsyncSession, now: datetime, limit: int
    ) -> list[tuple[uuid.UUID, uuid.UUID]]:
        """(agency, run) of runs with an action due, in every agency, soonest first; in a
        transaction of its own (it sets the worker's flag)."""
        await set_local(session, {AUTOMATION_WORKER_SETTING: "on"})
        rows = await session.execute(
            select(AutomationRun.tenant_id, AutomationRun.id)
            .where(
                AutomationRun.status == AutomationRunStatus.RUNNING.value,
                AutomationRun.next_attempt_at <= now,
            )
            .order_by(AutomationRun.next_attempt_at)
            .limit(limit)
        )
        return [(row[0], row[1]) for row in rows]

    async def claim(
        self, session: AsyncSession, run_id: uuid.UUID, now: datetime
    ) -> AutomationRun | None:
        """The run, locked, if an action of it is still due and nobody else holds it."""
        stmt = (
            select(AutomationRun)
            .where(
                AutomationRun.id == run_id,
                AutomationRun.status == AutomationRunStatus.RUNNING.value,
                AutomationRun.next_attempt_at <= now,
            )
            .with_for_update(skip_locked=True)
        )
        return (await session.scalars(stmt)).one_or_none()


rule_repository = RuleRepository()
run_repository = RunRepository()
