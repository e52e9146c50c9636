"""Pipelines and their stages: the default pipeline every agency gets, and the rules for
editing stages. Services never commit: the edge owns the transaction.

Locks, always taken in this order so that no two transactions wait on each other in a
circle: a change to a pipeline's stages locks the pipeline row first (so its rules are
checked one change at a time), then its stage rows in id order (all of them when positions
change or a stage goes; the one stage for a rename); moving a deal (deal service) locks the
rows of the stages it leaves and enters, in id order, then the deal row.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.errors import Conflict, NotFound, field_error
from agencyos.common.pagination import PageParams
from agencyos.crm.models import Pipeline, Stage
from agencyos.crm.pipeline.repository import pipeline_repository, stage_repository
from agencyos.crm.pipeline.schemas import (
    MAX_STAGES,
    PipelineCreate,
    PipelineUpdate,
    StageCreate,
    StageKind,
    StageOrder,
    StageUpdate,
)

SERVICE = "crm"
DEFAULT_PIPELINE_NAME = "Sales"
# name, kind, probability: what every agency starts with.
DEFAULT_STAGES: tuple[tuple[str, StageKind, int], ...] = (
    ("lead", StageKind.OPEN, 10),
    ("proposal", StageKind.OPEN, 40),
    ("negotiation", StageKind.OPEN, 70),
    ("won", StageKind.WON, 100),
    ("lost", StageKind.LOST, 0),
)
# Won and lost stages need no probability from the caller.
KIND_PROBABILITY = {StageKind.WON: 100, StageKind.LOST: 0}
REQUIRED_KINDS = (StageKind.OPEN, StageKind.WON, StageKind.LOST)


@dataclass(frozen=True)
class PipelineView:
    pipeline: Pipeline
    stages: list[Stage]


def missing_kinds(kinds: Iterable[str]) -> list[str]:
    present = set(kinds)
    return [k.value for k in REQUIRED_KINDS if k.value not in present]


def _probability(kind: StageKind, probability: int | None, field: str) -> int:
    if probability is not None:
        return probability
    if kind in KIND_PROBABILITY:
        return KIND_PROBABILITY[kind]
    raise field_error(field, "an open stage needs a probability (0 to 100)", "missing")


class PipelineService:
    # --- the default pipeline ---------------------------------------------------------------

    async def ensure_default(self, session: AsyncSession, tenant_id: uuid.UUID) -> Pipeline:
        """The agency's default pipeline, created with the standard stages if it has none.

        The one code path for the `identity.agency.created` handler and for routes that need a
        pipeline (agencies older than pipelines; requests racing the consumer). Safe under
        concurrency: the unique partial index on `is_default` lets one insert through; the
        other waits for it and inserts nothing (ON CONFLICT DO NOTHING), then reads the
        winner's pipeline.
        """
        existing = await pipeline_repository.get_default(session)
        if existing is not None:
            return existing
        pipeline_id = await pipeline_repository.insert_default(
            session, tenant_id, DEFAULT_PIPELINE_NAME
        )
        if pipeline_id is not None:
            for position, (name, kind, probability) in enumerate(DEFAULT_STAGES):
                session.add(
                    Stage(
                        tenant_id=tenant_id,
                        id=uuid.uuid4(),
                        pipeline_id=pipeline_id,
                        name=name,
                        kind=kind.value,
                        probability=probability,
                        position=position,
                    )
                )
            await session.flush()
        created = await pipeline_repository.get_default(session)
        if created is None:  # pragma: no cover - the insert or the conflict guarantees one
            raise RuntimeError("the default pipeline vanished")
        return created

    # --- reading ------------------------------------------------------------------------------

    async def _views(
        self, session: AsyncSession, pipelines: Sequence[Pipeline]
    ) -> list[PipelineView]:
        stages = await stage_repository.of_pipelines(session, [p.id for p in pipelines])
        by_pipeline: dict[uuid.UUID, list[Stage]] = {p.id: [] for p in pipelines}
        for stage in stages:
            by_pipeline[stage.pipeline_id].append(stage)
        return [PipelineView(p, by_pipeline[p.id]) for p in pipelines]

    async def list_pipelines(
        self, session: AsyncSession, principal: Principal, params: PageParams
    ) -> tuple[list[PipelineView], int]:
        await self.ensure_default(session, principal.tenant_id)
        pipelines, total = await pipeline_repository.list_page(
            session, page=params.page, per_page=params.per_page
        )
        return await self._views(session, pipelines), total

    async def get(self, session: AsyncSession, pipeline_id: uuid.UUID) -> PipelineView:
        pipeline = await pipeline_repository.get(session, pipeline_id)
        if pipeline is None:
            raise NotFound("no such pipeline")
        return (await self._views(session, [pipeline]))[0]

    async def get_pipeline(self, session: AsyncSession, pipeline_id: uuid.UUID) -> Pipeline:
        pipeline = await pipeline_repository.get(session, pipeline_id)
        if pipeline is None:
            raise NotFound("no such pipeline")
        return pipeline

    async def stages_of(self, session: AsyncSession, pipeline_id: uuid.UUID) -> list[Stage]:
        return await stage_repository.of_pipelines(session, [pipeline_id])

    async def resolve_stage(
        self,
        session: AsyncSession,
        pipeline_id: uuid.UUID,
        ref: str,
        *,
        field: str = "stage",
    ) -> Stage:
        """A stage of the pipeline named by its id or by its name (case-insensitive). An id
        that is no stage of the agency is a 404 (like another agency's); a stage of another
        pipeline, or a name the pipeline does not have, is bad input naming `field`."""
        try:
            stage_id: uuid.UUID | None = uuid.UUID(ref.strip())
        except ValueError:
            stage_id = None
        if stage_id is not None:
            stage = await stage_repository.get(session, stage_id)
            if stage is None:
                raise NotFound("no such stage")
            if stage.pipeline_id != pipeline_id:
                raise field_error(field, "the stage belongs to another pipeline")
            return stage
        stage = await stage_repository.by_name(session, pipeline_id, ref)
        if stage is None:
            raise field_error(field, f"the pipeline has no stage named {ref.strip()!r}")
        return stage

    # --- writing ------------------------------------------------------------------------------

    async def create(
        self, session: AsyncSession, principal: Principal, data: PipelineCreate
    ) -> PipelineView:
        seen: set[str] = set()
        stages: list[dict[str, Any]] = []
        for index, item in enumerate(data.stages):
            key = item.name.lower()
            if key in seen:
                raise field_error(
                    f"stages.{index}.name", f"the stage name {item.name!r} is used twice"
                )
            seen.add(key)
            stages.append(
                {
                    "name": item.name,
                    "kind": item.kind.value,
                    "probability": _probability(
                        item.kind, item.probability, f"stages.{index}.probability"
                    ),
                }
            )
        missing = missing_kinds(s["kind"] for s in stages)
        if missing:
            raise field_error(
                "stages",
                "a pipeline needs at least one open, one won and one lost stage "
                f"(missing: {', '.join(missing)})",
            )
        pipeline = Pipeline(
            tenant_id=principal.tenant_id, id=uuid.uuid4(), name=data.name, is_default=False
        )
        await pipeline_repository.create(session, pipeline)
        created = [
            Stage(
                tenant_id=principal.tenant_id,
                id=uuid.uuid4(),
                pipeline_id=pipeline.id,
                position=position,
                **stage,
            )
            for position, stage in enumerate(stages)
        ]
        session.add_all(created)
        await session.flush()
        return PipelineView(pipeline, created)

    async def _locked(self, session: AsyncSession, pipeline_id: uuid.UUID) -> Pipeline:
        pipeline = await pipeline_repository.lock(session, pipeline_id)
        if pipeline is None:
            raise NotFound("no such pipeline")
        return pipeline

    async def rename(
        self, session: AsyncSession, pipeline_id: uuid.UUID, data: PipelineUpdate
    ) -> PipelineView:
        pipeline = await self._locked(session, pipeline_id)
        await pipeline_repository.update(session, pipeline, {"name": data.name})
        return await self.get(session, pipeline_id)

    async def add_stage(
        self,
        session: AsyncSession,
        principal: Principal,
        pipeline_id: uuid.UUID,
        data: StageCreate,
    ) -> Stage:
        await self._locked(session, pipeline_id)
        await stage_repository.lock_all(session, pipeline_id)
        stages = await self.stages_of(session, pipeline_id)
        if len(stages) >= MAX_STAGES:
            raise Conflict(f"a pipeline has at most {MAX_STAGES} stages")
        if any(s.name.lower() == data.name.lower() for s in stages):
            raise Conflict(f"the pipeline already has a stage named {data.name!r}")
        stage = Stage(
            tenant_id=principal.tenant_id,
            id=uuid.uuid4(),
            pipeline_id=pipeline_id,
            name=data.name,
            kind=data.kind.value,
            probability=_probability(data.kind, data.probability, "probability"),
            position=len(stages),
        )
        await stage_repository.create(session, stage)
        place = len(stages) if data.position is None else min(data.position, len(stages))
        ordered = [s.id for s in stages]
        ordered.insert(place, stage.id)
        await stage_repository.set_positions(session, ordered)
        await session.refresh(stage)
        return stage

    async def update_stage(
        self,
        session: AsyncSession,
        pipeline_id: uuid.UUID,
        stage_id: uuid.UUID,
        data: StageUpdate,
    ) -> Stage:
        await self._locked(session, pipeline_id)
        sent = data.model_dump(exclude_unset=True)
        for name in ("name", "kind", "probability"):
            if name in sent and sent[name] is None:
                raise field_error(name, f"{name} cannot be null")
        stage = await stage_repository.in_pipeline(
            session, pipeline_id, stage_id, for_update="kind" in sent
        )
        if stage is None:
            raise NotFound("no such stage")
        stages = await self.stages_of(session, pipeline_id)
        changes: dict[str, Any] = {}
        if "name" in sent and sent["name"] != stage.name:
            if any(s.id != stage.id and s.name.lower() == sent["name"].lower() for s in stages):
                raise Conflict(f"the pipeline already has a stage named {sent['name']!r}")
            changes["name"] = sent["name"]
        if "kind" in sent and sent["kind"] != stage.kind:
            # Deals in the stage would turn won or lost (or reopen) without any event.
            if await stage_repository.deal_count(session, stage.id):
                raise Conflict("the stage has deals: move them out before changing its kind")
            kinds = [sent["kind"].value if s.id == stage.id else s.kind for s in stages]
            missing = missing_kinds(kinds)
            if missing:
                raise Conflict(
                    "a pipeline keeps at least one open, one won and one lost stage "
                    f"(this would leave no {' or '.join(missing)} stage)"
                )
            changes["kind"] = sent["kind"].value
        if "probability" in sent:
            changes["probability"] = sent["probability"]
        if changes:
            await stage_repository.update(session, stage, changes)
        return stage

    async def reorder_stages(
        self, session: AsyncSession, pipeline_id: uuid.UUID, data: StageOrder
    ) -> PipelineView:
        await self._locked(session, pipeline_id)
        await stage_repository.lock_all(session, pipeline_id)
        stages = await self.stages_of(session, pipeline_id)
        if len(set(data.stage_ids)) != len(data.stage_ids):
            raise field_error("stage_ids", "a stage is listed more than once")
        if set(data.stage_ids) != {s.id for s in stages}:
            raise field_error("stage_ids", "list every stage of the pipeline, each exactly once")
        await stage_repository.set_positions(session, data.stage_ids)
        return await self.get(session, pipeline_id)

    async def delete_stage(
        self,
        session: AsyncSession,
        principal: Principal,
        pipeline_id: uuid.UUID,
        stage_id: uuid.UUID,
    ) -> None:
        await self._locked(session, pipeline_id)
        # FOR UPDATE on every stage: waits for anyone placing a deal in the stage, and keeps
        # new ones out (their foreign key check waits, then finds no stage).
        await stage_repository.lock_all(session, pipeline_id)
        stage = await stage_repository.in_pipeline(session, pipeline_id, stage_id)
        if stage is None:
            raise NotFound("no such stage")
        count = await stage_repository.deal_count(session, stage.id)
        if count:
            raise Conflict(f"the stage has {count} deal(s): move them to another stage first")
        stages = await self.stages_of(session, pipeline_id)
        remaining = [s for s in stages if s.id != stage.id]
        missing = missing_kinds(s.kind for s in remaining)
        if missing:
            raise Conflict(
                "a pipeline keeps at least one open, one won and one lost stage "
                f"(this is its last {' and '.join(missing)} stage)"
            )
        await session.execute(
            delete(Stage).where(Stage.id == stage.id).execution_options(synchronize_session=False)
        )
        session.expunge(stage)
        await stage_repository.set_positions(session, [s.id for s in remaining])
        await record_audit(
            session,
            action="pipeline_stage.deleted",
            entity_type="pipeline_stage",
            entity_id=stage.id,
            actor=principal,
            source_service=SERVICE,
            before={"name": stage.name, "kind": stage.kind, "probability": stage.probability},
            detail={"pipeline_id": str(pipeline_id)},
        )


pipeline_service = PipelineService()
