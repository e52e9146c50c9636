import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from agencyos.common.errors import InvalidInput
from agencyos.common.pagination import MAX_PER_PAGE, Page, Pagination
from agencyos.common.peers.identity import IdentityClient
from agencyos.common.peers.work import WorkClient
from agencyos.common.types import IsoDate, Name
from agencyos.common.web import TenantSession, service_context
from agencyos.crm.deal.permissions import DealsRead, DealsWrite, ForecastRead
from agencyos.crm.deal.repository import DealFilters, DealRow
from agencyos.crm.deal.schemas import (
    Board,
    BoardPipeline,
    BoardStage,
    CurrencyTotal,
    DateField,
    Deal,
    DealCreate,
    DealMove,
    DealSort,
    DealStatus,
    DealUpdate,
    Forecast,
    ForecastGroupBy,
    ForecastRow,
    ForecastTotal,
)
from agencyos.crm.deal.service import ROUNDING, deal_service, weighted

router = APIRouter(prefix="/v1/deals", tags=["deals"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such deal in your agency"}}


def deal_out(row: DealRow) -> Deal:
    deal = row.deal
    return Deal(
        id=deal.id,
        title=deal.title,
        pipeline_id=deal.pipeline_id,
        stage_id=deal.stage_id,
        stage_name=row.stage_name,
        status=DealStatus(row.stage_kind),
        client_id=deal.client_id,
        client_name=row.client_name,
        value_cents=deal.value_cents,
        currency=deal.currency,
        probability=row.probability,
        probability_override=deal.probability,
        weighted_value_cents=weighted(deal.value_cents, row.probability),
        expected_close_date=deal.expected_close_date,
        assigned_to=deal.assigned_to,
        description=deal.description,
        position=deal.position,
        template_id=deal.template_id,
        project_id=deal.project_id,
        lost_reason=deal.lost_reason,
        closed_at=deal.closed_at,
        created_by=deal.created_by,
        created_at=deal.created_at,
        updated_at=deal.updated_at,
    )


def _date_range(date_from: date | None, date_to: date | None) -> None:
    if date_from is not None and date_to is not None and date_from > date_to:
        message = "`from` is after `to`"
        raise InvalidInput(
            message, errors=[{"field": "query.from", "message": message, "type": "range"}]
        )


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Deal,
    summary="Create a deal",
    description=(
        "A deal for an existing client (`client_id`) or a new one (`client`, the fields of "
        "`POST /v1/clients`, created in the same transaction) — exactly one of the two. "
        "Without `pipeline_id` the deal goes to the default pipeline; `stage` is an open "
        "stage's id or name (default: the pipeline's first open stage). `currency` defaults "
        "to the client's. Without `probability` the stage's applies. The deal is placed at "
        "the bottom of its stage's column and noted on the client's timeline."
    ),
    responses={
        404: {"description": "No such client, pipeline or stage in your agency"},
        422: {"description": "Invalid fields (named in `errors`)"},
    },
)
async def create_deal(
    body: DealCreate,
    principal: DealsWrite,
    session: TenantSession,
    request: Request,
    response: Response,
) -> Deal:
    row = await deal_service.create(
        session,
        principal,
        body,
        IdentityClient.of(service_context(request).settings),
        WorkClient.of(service_context(request).settings),
    )
    response.headers["Location"] = f"/v1/deals/{row.deal.id}"
    return deal_out(row)


@router.get(
    "",
    response_model=Page[Deal],
    summary="List deals",
    description=(
        "Filters combine. `stage` is a stage id or a stage name; `status` the kind of the "
        "deal's stage; `from`/`to` (inclusive ISO dates) apply to `date_field`: the day the "
        "deal was created (UTC, default) or its expected close date. `q` searches titles. "
        "Sort by `created_at`, `updated_at`, `value_cents`, `expected_close_date` or `title`, "
        "`-` for descending (default `-created_at`)."
    ),
)
async def list_deals(
    principal: DealsRead,
    session: TenantSession,
    pagination: Pagination,
    stage: Annotated[Name | None, Query(min_length=1, max_length=100)] = None,
    pipeline_id: uuid.UUID | None = None,
    assigned_to: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    status_filter: Annotated[DealStatus | None, Query(alias="status")] = None,
    date_field: DateField = DateField.CREATED_AT,
    date_from: Annotated[IsoDate | None, Query(alias="from")] = None,
    date_to: Annotated[IsoDate | None, Query(alias="to")] = None,
    q: Annotated[Name | None, Query(min_length=1, max_length=200)] = None,
    sort: DealSort = DealSort.CREATED_AT_DESC,
) -> Page[Deal]:
    _date_range(date_from, date_to)
    stage_id, stage_name = (
        await deal_service.stage_filter(session, stage) if stage else (None, None)
    )
    filters = DealFilters(
        pipeline_id=pipeline_id,
        stage_id=stage_id,
        stage_name=stage_name,
        status=status_filter.value if status_filter else None,
        assigned_to=assigned_to,
        client_id=client_id,
        q=q,
        date_field=date_field.value,
        date_from=date_from,
        date_to=date_to,
    )
    rows, total = await deal_service.list_deals(
        session, filters, sort=sort.value, params=pagination
    )
    return pagination.page_of([deal_out(r) for r in rows], total)


@router.get(
    "/forecast",
    response_model=Forecast,
    summary="Sales forecast",
    description=(
        "Open deals' weighted value (value x probability, the deal's own or else its "
        "stage's) with counts and unweighted totals, grouped by expected-close `month` "
        "(deals without a date in the `null` group), `stage` or `owner` (the assigned "
        "member). Every row and total is per currency: different currencies are never added. "
        "Rounding: each deal's weighted value is rounded half up to whole cents, then summed. "
        "`from`/`to` (inclusive) limit the expected close date (deals without one then drop "
        "out)."
    ),
    responses={404: {"description": "No such pipeline in your agency"}},
)
async def forecast(
    principal: ForecastRead,
    session: TenantSession,
    group_by: ForecastGroupBy,
    pipeline_id: uuid.UUID | None = None,
    date_from: Annotated[IsoDate | None, Query(alias="from")] = None,
    date_to: Annotated[IsoDate | None, Query(alias="to")] = None,
) -> Forecast:
    _date_range(date_from, date_to)
    view = await deal_service.forecast(
        session, group_by.value, pipeline_id=pipeline_id, date_from=date_from, date_to=date_to
    )
    return Forecast(
        group_by=group_by,
        rounding=ROUNDING,
        groups=[
            ForecastRow(
                key=key,
                label=label,
                currency=currency,
                count=count,
                value_cents=value,
                weighted_value_cents=weighted_value,
            )
            for key, label, currency, count, value, weighted_value in view.groups
        ],
        totals=[
            ForecastTotal(currency=c, count=n, value_cents=v, weighted_value_cents=w)
            for c, n, v, w in view.totals
        ],
    )


@router.get(
    "/board",
    response_model=Board,
    summary="Kanban board of a pipeline",
    description=(
        "The pipeline's stages in order, each with its deals in column order (at most "
        "`per_stage`), its deal count and its value per currency. Default: the default "
        "pipeline. `assigned_to` and `client_id` narrow every column and count."
    ),
    responses={404: {"description": "No such pipeline in your agency"}},
)
async def board(
    principal: DealsRead,
    session: TenantSession,
    pipeline_id: uuid.UUID | None = None,
    assigned_to: uuid.UUID | None = None,
    client_id: uuid.UUID | None = None,
    per_stage: Annotated[int, Query(ge=1, le=MAX_PER_PAGE)] = 50,
) -> Board:
    filters = DealFilters(assigned_to=assigned_to, client_id=client_id)
    view = await deal_service.board(session, principal, pipeline_id, filters, per_stage=per_stage)
    return Board(
        pipeline=BoardPipeline(
            id=view.pipeline.id, name=view.pipeline.name, is_default=view.pipeline.is_default
        ),
        stages=[
            BoardStage(
                id=column.stage.id,
                name=column.stage.name,
                kind=DealStatus(column.stage.kind),
                probability=column.stage.probability,
                position=column.stage.position,
                count=column.count,
                totals=[
                    CurrencyTotal(currency=c, count=n, value_cents=v) for c, n, v in column.totals
                ],
                deals=[deal_out(r) for r in column.deals],
            )
            for column in view.columns
        ],
    )


@router.get("/{deal_id}", response_model=Deal, summary="Get a deal", responses=_NOT_FOUND)
async def get_deal(deal_id: uuid.UUID, principal: DealsRead, session: TenantSession) -> Deal:
    return deal_out(await deal_service.get(session, deal_id))


@router.patch(
    "/{deal_id}",
    response_model=Deal,
    summary="Edit a deal",
    description=(
        "Only the fields sent change; null clears an optional one (a null `probability` lets "
        "the stage's apply). The stage changes through `PUT /v1/deals/{id}/stage`."
    ),
    responses={**_NOT_FOUND, 422: {"description": "Invalid fields (named in `errors`)"}},
)
async def update_deal(
    deal_id: uuid.UUID,
    body: DealUpdate,
    principal: DealsWrite,
    session: TenantSession,
    request: Request,
) -> Deal:
    row = await deal_service.update(
        session,
        principal,
        deal_id,
        body,
        IdentityClient.of(service_context(request).settings),
        WorkClient.of(service_context(request).settings),
    )
    return deal_out(row)


@router.delete(
    "/{deal_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a deal",
    description=(
        "Publishes `crm.deal.deleted` (with its pipeline and stage). A deal that became a "
        "project stays (409): it is the project's origin."
    ),
    responses={**_NOT_FOUND, 409: {"description": "The deal has a project"}},
)
async def delete_deal(
    deal_id: uuid.UUID, principal: DealsWrite, session: TenantSession
) -> Response:
    await deal_service.delete(session, principal, deal_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.put(
    "/{deal_id}/stage",
    response_model=Deal,
    summary="Move a deal (stage and column order)",
    description=(
        "Moves the deal to `stage` (id or name, same pipeline) and/or within its column: "
        "`before_id` / `after_id` (a deal of the target stage) or `position` (0-based; 0 = "
        "top) — at most one; none puts a deal that changes stage at the bottom. A move "
        "rewrites only the deal's row (its position is between its new neighbours). "
        "Every stage change publishes `crm.deal.stage_changed` and is noted on the client's "
        "timeline. Entering a won stage sets `closed_at` and publishes `crm.deal.won`; "
        "entering a lost stage needs `lost_reason`, sets `closed_at` and publishes "
        "`crm.deal.lost`; moving back to an open stage reopens the deal (clears both)."
    ),
    responses={
        404: {"description": "No such deal or stage (or before_id/after_id deal) in your agency"},
        422: {
            "description": "Invalid fields: a stage of another pipeline, lost_reason "
            "missing for a lost stage, an anchor deal not in the target stage"
        },
    },
)
async def move_deal(
    deal_id: uuid.UUID, body: DealMove, principal: DealsWrite, session: TenantSession
) -> Deal:
    return deal_out(await deal_service.move(session, principal, deal_id, body))
