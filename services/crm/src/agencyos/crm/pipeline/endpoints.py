import uuid
from typing import Any

from fastapi import APIRouter, Response, status

from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession
from agencyos.crm.deal.permissions import DealsRead, DealsWrite
from agencyos.crm.pipeline.schemas import (
    Pipeline,
    PipelineCreate,
    PipelineUpdate,
    Stage,
    StageCreate,
    StageOrder,
    StageUpdate,
)
from agencyos.crm.pipeline.service import PipelineView, pipeline_service

router = APIRouter(prefix="/v1/pipelines", tags=["pipelines"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such pipeline (or stage) in your agency"}
}
_RULES = (
    "A pipeline always keeps at least one `open`, one `won` and one `lost` stage; stage names "
    "are unique within a pipeline (case-insensitively)."
)


def pipeline_out(view: PipelineView) -> Pipeline:
    return Pipeline(
        id=view.pipeline.id,
        name=view.pipeline.name,
        is_default=view.pipeline.is_default,
        stages=[Stage.model_validate(s) for s in view.stages],
        created_at=view.pipeline.created_at,
        updated_at=view.pipeline.updated_at,
    )


@router.get(
    "",
    response_model=Page[Pipeline],
    summary="List pipelines",
    description="The agency's pipelines with their stages in board order, the default "
    "pipeline first. Every agency has a default pipeline, `Sales`, with the stages lead (10%), "
    "proposal (40%), negotiation (70%), won (100%) and lost (0%).",
)
async def list_pipelines(
    principal: DealsRead, session: TenantSession, pagination: Pagination
) -> Page[Pipeline]:
    views, total = await pipeline_service.list_pipelines(session, principal, pagination)
    return pagination.page_of([pipeline_out(v) for v in views], total)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Pipeline,
    summary="Create a pipeline",
    description=f"A pipeline with its stages, in board order. {_RULES}",
    responses={
        422: {"description": "Invalid fields, duplicate stage names, or a stage kind missing"}
    },
)
async def create_pipeline(
    body: PipelineCreate, principal: DealsWrite, session: TenantSession, response: Response
) -> Pipeline:
    view = await pipeline_service.create(session, principal, body)
    response.headers["Location"] = f"/v1/pipelines/{view.pipeline.id}"
    return pipeline_out(view)


@router.get(
    "/{pipeline_id}",
    response_model=Pipeline,
    summary="Get a pipeline",
    responses=_NOT_FOUND,
)
async def get_pipeline(
    pipeline_id: uuid.UUID, principal: DealsRead, session: TenantSession
) -> Pipeline:
    return pipeline_out(await pipeline_service.get(session, pipeline_id))


@router.patch(
    "/{pipeline_id}",
    response_model=Pipeline,
    summary="Rename a pipeline",
    responses=_NOT_FOUND,
)
async def update_pipeline(
    pipeline_id: uuid.UUID, body: PipelineUpdate, principal: DealsWrite, session: TenantSession
) -> Pipeline:
    return pipeline_out(await pipeline_service.rename(session, pipeline_id, body))


@router.put(
    "/{pipeline_id}/stages/order",
    response_model=Pipeline,
    summary="Reorder a pipeline's stages",
    description="Send every stage id of the pipeline, each once, in the new board order.",
    responses={**_NOT_FOUND, 422: {"description": "Not exactly the pipeline's stages"}},
)
async def reorder_stages(
    pipeline_id: uuid.UUID, body: StageOrder, principal: DealsWrite, session: TenantSession
) -> Pipeline:
    return pipeline_out(await pipeline_service.reorder_stages(session, pipeline_id, body))


@router.post(
    "/{pipeline_id}/stages",
    status_code=status.HTTP_201_CREATED,
    response_model=Stage,
    summary="Add a stage",
    description=f"Adds a stage at `position` (0-based; default: last). Open stages need a "
    f"`probability`; won stages default to 100 and lost ones to 0. {_RULES}",
    responses={
        **_NOT_FOUND,
        409: {"description": "A stage of that name exists, or the pipeline is full"},
    },
)
async def add_stage(
    pipeline_id: uuid.UUID, body: StageCreate, principal: DealsWrite, session: TenantSession
) -> Stage:
    stage = await pipeline_service.add_stage(session, principal, pipeline_id, body)
    return Stage.model_validate(stage)


@router.patch(
    "/{pipeline_id}/stages/{stage_id}",
    response_model=Stage,
    summary="Rename a stage, or change its probability or kind",
    description="A new probability applies to every deal in the stage without its own. The "
    f"kind changes only while no deal is in the stage. {_RULES}",
    responses={
        **_NOT_FOUND,
        409: {
            "description": "Name taken, the stage has deals (kind change), or the change "
            "would leave the pipeline without an open, won or lost stage"
        },
    },
)
async def update_stage(
    pipeline_id: uuid.UUID,
    stage_id: uuid.UUID,
    body: StageUpdate,
    principal: DealsWrite,
    session: TenantSession,
) -> Stage:
    stage = await pipeline_service.update_stage(session, pipeline_id, stage_id, body)
    return Stage.model_validate(stage)


@router.delete(
    "/{pipeline_id}/stages/{stage_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a stage",
    description=f"Only a stage without deals can go. {_RULES}",
    responses={
        **_NOT_FOUND,
        409: {"description": "The stage has deals, or it is the pipeline's last stage of its kind"},
    },
)
async def delete_stage(
    pipeline_id: uuid.UUID, stage_id: uuid.UUID, principal: DealsWrite, session: TenantSession
) -> Response:
    await pipeline_service.delete_stage(session, principal, pipeline_id, stage_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
