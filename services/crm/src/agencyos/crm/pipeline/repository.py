"""SQL for pipelines and their stages."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import func, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.crm.models import Deal, Pipeline, Stage


class PipelineRepository(Repository[Pipeline]):
    model = Pipeline

    async def get_default(self, session: AsyncSession) -> Pipeline | None:
        stmt = select(Pipeline).where(Pipeline.is_default.is_(True))
        return (await session.execute(stmt)).scalar_one_or_none()

    async def insert_default(
        self, session: AsyncSession, tenant_id: uuid.UUID, name: str
    ) -> uuid.UUID | None:
        """Insert the agency's default pipeline unless it has one; None when it had. A
        concurrent insert waits on the unique partial index and then does nothing."""
        stmt = (
            insert(Pipeline)
            .values(tenant_id=tenant_id, id=uuid.uuid4(), name=name, is_default=True)
            .on_conflict_do_nothing(
                # The predicate as the index has it (`is_default`), for PostgreSQL to infer it.
                index_elements=["tenant_id"],
                index_where=text("is_default"),
            )
            .returning(Pipeline.id)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def lock(self, session: AsyncSession, pipeline_id: uuid.UUID) -> Pipeline | None:
        """The pipeline, row-locked: every change to a pipeline's stages holds this lock, so
        its rules (one stage of each kind, unique names, positions) are checked serially."""
        stmt = (
            select(Pipeline)
            .where(Pipeline.id == pipeline_id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def list_page(
        self, session: AsyncSession, *, page: int, per_page: int
    ) -> tuple[Sequence[Pipeline], int]:
        # The default first, then by creation.
        stmt = select(Pipeline).order_by(
            Pipeline.is_default.desc(), Pipeline.created_at, Pipeline.id
        )
        return await self.paginate(session, stmt, page=page, per_page=per_page)


class StageRepository(Repository[Stage]):
    model = Stage

    async def of_pipelines(
        self, session: AsyncSession, pipeline_ids: Sequence[uuid.UUID]
    ) -> list[Stage]:
        if not pipeline_ids:
            return []
        stmt = (
            select(Stage)
            .where(Stage.pipeline_id.in_(pipeline_ids))
            .order_by(Stage.pipeline_id, Stage.position, Stage.created_at, Stage.id)
            .execution_options(populate_existing=True)
        )
        return list((await session.execute(stmt)).scalars())

    async def in_pipeline(
        self,
        session: AsyncSession,
        pipeline_id: uuid.UUID,
        stage_id: uuid.UUID,
        *,
        for_update: bool = False,
    ) -> Stage | None:
        """One stage of the pipeline; `for_update`: row-locked, as for a kind change (which
        waits for deals arriving in it, and keeps new ones out until it commits)."""
        stmt = select(Stage).where(Stage.pipeline_id == pipeline_id, Stage.id == stage_id)
        if for_update:
            stmt = stmt.with_for_update()
        stmt = stmt.execution_options(populate_existing=True)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def by_name(
        self, session: AsyncSession, pipeline_id: uuid.UUID, name: str
    ) -> Stage | None:
        stmt = select(Stage).where(
            Stage.pipeline_id == pipeline_id, func.lower(Stage.name) == name.strip().lower()
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def lock_for_deals(self, session: AsyncSession, stage_id: uuid.UUID) -> Stage | None:
        """The stage, locked against concurrent placing of deals and against its deletion."""
        stmt = (
            select(Stage)
            .where(Stage.id == stage_id)
            .with_for_update(key_share=True)
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def lock_all(self, session: AsyncSession, pipeline_id: uuid.UUID) -> None:
        """Lock every stage of the pipeline, in id order (the order movers lock stages in), so
        renumbering or deleting stages never waits on a mover that waits on it."""
        stmt = (
            select(Stage.id)
            .where(Stage.pipeline_id == pipeline_id)
            .order_by(Stage.id)
            .with_for_update()
        )
        await session.execute(stmt)

    async def set_positions(self, session: AsyncSession, ordered_ids: Sequence[uuid.UUID]) -> None:
        for index, stage_id in enumerate(ordered_ids):
            await session.execute(
                update(Stage)
                .where(Stage.id == stage_id, Stage.position != index)
                .values(position=index)
                .execution_options(synchronize_session=False)
            )

    async def deal_count(self, session: AsyncSession, stage_id: uuid.UUID) -> int:
        stmt = select(func.count()).select_from(Deal).where(Deal.stage_id == stage_id)
        return int((await session.execute(stmt)).scalar_one())


pipeline_repository = PipelineRepository()
stage_repository = StageRepository()
