import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response, status

from agencyos.common.pagination import Page, Pagination
from agencyos.common.peers.identity import IdentityClient
from agencyos.common.types import Name
from agencyos.common.web import TenantSession, service_context
from agencyos.crm.client.permissions import ClientsRead, ClientsWrite
from agencyos.crm.client.schemas import (
    Client,
    ClientCreate,
    ClientDeletion,
    ClientSort,
    ClientStatus,
    ClientUpdate,
)
from agencyos.crm.client.service import client_service

router = APIRouter(prefix="/v1/clients", tags=["clients"])

_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"description": "No such client in your agency"}
}


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Client,
    summary="Create a client",
    responses={
        409: {"description": "Another client has this external_id"},
        422: {"description": "Invalid fields, or owner_id is not a member"},
    },
)
async def create_client(
    body: ClientCreate,
    principal: ClientsWrite,
    session: TenantSession,
    request: Request,
    response: Response,
) -> Client:
    client = await client_service.create(
        session, principal, body, IdentityClient.of(service_context(request).settings)
    )
    response.headers["Location"] = f"/v1/clients/{client.id}"
    return Client.model_validate(client)


@router.get(
    "",
    response_model=Page[Client],
    summary="List and search clients",
    description=(
        "`q` finds clients whose company name, or any contact's name or email, contains it "
        "(case-insensitive; served by a trigram index). Filters combine with AND. `sort` is "
        "one of company_name, created_at, total_revenue_cents, last_activity_at, with `-` "
        "for descending (default `-created_at`)."
    ),
)
async def list_clients(
    principal: ClientsRead,
    session: TenantSession,
    pagination: Pagination,
    q: Annotated[Name | None, Query(max_length=200)] = None,
    tag: Annotated[Name | None, Query(max_length=50)] = None,
    industry: Annotated[Name | None, Query(max_length=100)] = None,
    status_filter: Annotated[ClientStatus | None, Query(alias="status")] = None,
    owner_id: uuid.UUID | None = None,
    sort: ClientSort = ClientSort.CREATED_AT_DESC,
) -> Page[Client]:
    items, total = await client_service.list_clients(
        session,
        principal,
        pagination,
        q=q.strip() or None if q else None,
        tag=tag,
        industry=industry,
        status=status_filter.value if status_filter else None,
        owner_id=owner_id,
        sort=sort.value,
    )
    return pagination.page_of([Client.model_validate(c) for c in items], total)


@router.get("/{client_id}", response_model=Client, summary="Get a client", responses=_NOT_FOUND)
async def get_client(
    client_id: uuid.UUID, principal: ClientsRead, session: TenantSession
) -> Client:
    return Client.model_validate(await client_service.get(session, client_id))


@router.patch(
    "/{client_id}",
    response_model=Client,
    summary="Update a client",
    description="Only the fields sent change; `null` clears an optional field.",
    responses={**_NOT_FOUND, 409: {"description": "Another client has this external_id"}},
)
async def update_client(
    client_id: uuid.UUID,
    body: ClientUpdate,
    principal: ClientsWrite,
    session: TenantSession,
    request: Request,
) -> Client:
    client = await client_service.update(
        session, principal, client_id, body, IdentityClient.of(service_context(request).settings)
    )
    return Client.model_validate(client)


@router.delete(
    "/{client_id}",
    response_model=ClientDeletion,
    summary="Delete a client, or archive it when it has history",
    description=(
        "A client with deals or timeline entries is archived (status `archived`, everything "
        "kept); one without is deleted with its contacts."
    ),
    responses=_NOT_FOUND,
)
async def delete_client(
    client_id: uuid.UUID, principal: ClientsWrite, session: TenantSession
) -> ClientDeletion:
    kept = await client_service.delete(session, principal, client_id)
    if kept is None:
        return ClientDeletion(outcome="deleted", client=None)
    return ClientDeletion(outcome="archived", client=Client.model_validate(kept))
