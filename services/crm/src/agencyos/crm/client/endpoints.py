import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from agencyos.common.auth import Principal
from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession, require
from agencyos.crm.client.schemas import Client, ClientCreate, ClientStatus
from agencyos.crm.client.service import client_service
from agencyos.crm.members import MemberDirectory

router = APIRouter(prefix="/v1/clients", tags=["clients"])

ClientsRead = Annotated[Principal, require("clients.read")]
ClientsWrite = Annotated[Principal, require("clients.write")]


def _members(request: Request) -> MemberDirectory:
    settings = request.app.state.ctx.settings
    return MemberDirectory(settings.identity_grpc_target, settings.grpc_timeout_seconds)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=Client,
    summary="Create a client",
    responses={422: {"description": "Invalid fields, or owner_id is not a member"}},
)
async def create_client(
    body: ClientCreate,
    principal: ClientsWrite,
    session: TenantSession,
    request: Request,
    response: Response,
) -> Client:
    client = await client_service.create(session, principal, body, _members(request))
    response.headers["Location"] = f"/v1/clients/{client.id}"
    return Client.model_validate(client)


@router.get("", response_model=Page[Client], summary="List clients")
async def list_clients(
    principal: ClientsRead,
    session: TenantSession,
    pagination: Pagination,
    status_filter: Annotated[ClientStatus | None, Query(alias="status")] = None,
) -> Page[Client]:
    items, total = await client_service.list_clients(
        session, pagination, status=status_filter.value if status_filter else None
    )
    return pagination.page_of([Client.model_validate(c) for c in items], total)


@router.get(
    "/{client_id}",
    response_model=Client,
    summary="Get a client",
    responses={404: {"description": "No such client in your agency"}},
)
async def get_client(
    client_id: uuid.UUID, principal: ClientsRead, session: TenantSession
) -> Client:
    return Client.model_validate(await client_service.get(session, client_id))
