"""/v1/rates: billable and cost rates with effective dates, and how they resolve."""

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from agencyos.common.pagination import Page, Pagination
from agencyos.common.types import IsoDate
from agencyos.common.web import TenantSession
from agencyos.time.peers import Peers
from agencyos.time.rate.permissions import RatesRead, RatesWrite
from agencyos.time.rate.schemas import (
    Rate,
    RateCreate,
    RateKind,
    RateResolution,
    RateScope,
    ResolvedRateOut,
)
from agencyos.time.rate.service import rate_service

router = APIRouter(prefix="/v1/rates", tags=["rates"])

_RESOLUTION = (
    "Billable rates resolve most specific first: the person's rate on the project "
    "(`project_member`) → the project's rate (`project`; the project's own `hourly_rate_cents` "
    "in work when time holds no project rate for that day) → the person's default "
    "(`member`) → the agency's default (`agency`). Cost rates: `member` → `agency`. Within a "
    "scope, a rate applies from its `effective_from` until the next one takes effect, so a new "
    "rate never changes what earlier days are worth; approved time also keeps the rate frozen "
    "on it at approval. Rates carry no currency: a billable rate is in the currency of the "
    "project the time is billed on."
)
_READ_403: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller lacks `reports.financial.read` (managers and above)"}
}
_WRITE_403: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller lacks `rates.write` (managers and above)"}
}
_NOT_FOUND: dict[int | str, dict[str, Any]] = {404: {"description": "No such rate in your agency"}}


@router.get(
    "",
    response_model=Page[Rate],
    summary="List rates",
    description=(
        "Every rate of the agency, history included, ordered by kind, scope and target with "
        "the newest `effective_from` first. Filters combine with AND: `kind`, `scope`, "
        "`user_id` (member and project_member rates of that person), `project_id` (project "
        "and project_member rates of that project). Needs `reports.financial.read`. " + _RESOLUTION
    ),
    responses=_READ_403,
)
async def list_rates(
    principal: RatesRead,
    session: TenantSession,
    pagination: Pagination,
    kind: Annotated[RateKind | None, Query(description="billable or cost")] = None,
    scope: Annotated[RateScope | None, Query(description="one scope only")] = None,
    user_id: Annotated[uuid.UUID | None, Query(description="rates naming this person")] = None,
    project_id: Annotated[uuid.UUID | None, Query(description="rates naming this project")] = None,
) -> Page[Rate]:
    rates, total = await rate_service.list_rates(
        session,
        kind=kind,
        scope=scope,
        user_id=user_id,
        project_id=project_id,
        page=pagination.page,
        per_page=pagination.per_page,
    )
    return pagination.page_of([Rate.model_validate(r) for r in rates], total)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Rate,
    summary="Add a rate",
    description=(
        "Adds a billable or cost rate for one scope from `effective_from` on. To change a "
        "rate, add a new one with a later `effective_from`: the old one keeps valuing the "
        "days before it. `user_id` must be a member of the agency and `project_id` one of its "
        "projects. Needs `rates.write`. " + _RESOLUTION
    ),
    responses={
        **_WRITE_403,
        409: {
            "description": "A rate of the same kind and scope already takes effect on that "
            "date (`rate_id` names it when known)"
        },
        422: {
            "description": "Invalid fields; the scope and its targets do not match (an "
            "`agency` rate names nobody, `member` needs `user_id`, `project` needs "
            "`project_id`, `project_member` both), a cost rate scoped to a project, or a "
            "target that is not in the agency"
        },
    },
)
async def create_rate(
    body: RateCreate,
    principal: RatesWrite,
    session: TenantSession,
    request: Request,
    response: Response,
) -> Rate:
    rate = await rate_service.create(session, principal, body, Peers.of(request))
    response.headers["Location"] = f"/v1/rates/{rate.id}"
    return Rate.model_validate(rate)


@router.get(
    "/resolve",
    response_model=RateResolution,
    summary="Resolve the rates for a person's time on a project",
    description=(
        "The billable and cost hourly rate that apply to `user_id`'s time on `project_id` on "
        "`date` (default: today in the agency's timezone), each with the level that answered "
        "(`source`: project_member, project, member, agency, or none) and the rate that did. "
        "Needs `reports.financial.read`. " + _RESOLUTION
    ),
    responses={
        **_READ_403,
        404: {"description": "No such project in your agency"},
        422: {"description": "A missing or malformed `user_id`, `project_id` or `date`"},
    },
)
async def resolve_rates(
    principal: RatesRead,
    session: TenantSession,
    request: Request,
    user_id: Annotated[uuid.UUID, Query(description="The person who logs the time")],
    project_id: Annotated[uuid.UUID, Query(description="The project the time is on")],
    on: Annotated[
        IsoDate | None,
        Query(alias="date", description="ISO date; default today in the agency's timezone"),
    ] = None,
) -> RateResolution:
    day, currency, billable, cost = await rate_service.resolve(
        session,
        principal,
        user_id=user_id,
        project_id=project_id,
        on=on,
        peers=Peers.of(request),
    )
    return RateResolution(
        user_id=user_id,
        project_id=project_id,
        date=day,
        currency=currency,
        billable=ResolvedRateOut.of(billable),
        cost=ResolvedRateOut.of(cost),
    )


@router.get(
    "/{rate_id}",
    response_model=Rate,
    summary="Get a rate",
    description="One rate of the agency. Needs `reports.financial.read`.",
    responses={**_READ_403, **_NOT_FOUND},
)
async def get_rate(rate_id: uuid.UUID, principal: RatesRead, session: TenantSession) -> Rate:
    return Rate.model_validate(await rate_service.get(session, rate_id))


@router.delete(
    "/{rate_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Delete a rate that is not yet in effect",
    description=(
        "Only a rate whose `effective_from` is still in the future (in the agency's timezone) "
        "can be deleted. A rate that has taken effect may already value logged time, so it "
        "stays as history: supersede it with a new rate instead. Needs `rates.write`."
    ),
    responses={
        **_WRITE_403,
        **_NOT_FOUND,
        409: {"description": "The rate is already in effect (today or earlier)"},
    },
)
async def delete_rate(
    rate_id: uuid.UUID, principal: RatesWrite, session: TenantSession, request: Request
) -> Response:
    await rate_service.delete(session, principal, rate_id, Peers.of(request))
    return Response(status_code=status.HTTP_204_NO_CONTENT)
