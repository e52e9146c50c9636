import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import TenantSession
from agencyos.identity.api_key.permissions import ApiKeysWrite
from agencyos.identity.api_key.schemas import ApiKey, ApiKeyCreate, ApiKeyCreated
from agencyos.identity.api_key.service import api_key_service
from agencyos.identity.revocations import IdentityRevoker

router = APIRouter(prefix="/v1/api-keys", tags=["api keys"])

_USING_A_KEY = (
    " A key is sent as `Authorization: Bearer <key>`; the gateway trades it for a short-lived "
    "access token with the key's role, so it acts with that role's permissions as this agency "
    "has tuned them."
)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=ApiKeyCreated,
    summary="Create an API key (owner and admin by default); the key is shown only now",
    description=(
        "Needs `api_keys.write`. The role may be at most one the caller may give (an admin "
        "gives admin and below). An API key cannot create keys." + _USING_A_KEY
    ),
    responses={
        403: {
            "description": "The caller lacks `api_keys.write`, may not give the role, is "
            "itself an API key, or has not verified their email address yet "
            "(`email-not-verified`)"
        },
        422: {"description": "Invalid name, role or expiry"},
    },
)
async def create_api_key(
    body: ApiKeyCreate, principal: ApiKeysWrite, session: TenantSession, response: Response
) -> ApiKeyCreated:
    api_key, key = await api_key_service.create(session, principal, body)
    # it carries the key: kept by no cache, nor by the Idempotency-Key store
    response.headers["Cache-Control"] = "no-store"
    return ApiKeyCreated(
        id=api_key.id,
        name=api_key.name,
        role=api_key.role,
        prefix=api_key.prefix,
        key=key,
        created_at=api_key.created_at,
        expires_at=api_key.expires_at,
        last_used_at=api_key.last_used_at,
        created_by=api_key.created_by,
    )


@router.get(
    "",
    response_model=Page[ApiKey],
    summary="The agency's API keys, newest first",
    description="Never the keys themselves. Revoked keys are left out unless asked for.",
)
async def list_api_keys(
    principal: ApiKeysWrite,
    session: TenantSession,
    pagination: Pagination,
    include_revoked: Annotated[bool, Query(description="Also list revoked keys")] = False,
) -> Page[ApiKey]:
    keys, total = await api_key_service.list_keys(
        session,
        principal,
        include_revoked=include_revoked,
        page=pagination.page,
        per_page=pagination.per_page,
    )
    return pagination.page_of([ApiKey.model_validate(k) for k in keys], total)


@router.delete(
    "/{api_key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an API key",
    description=(
        "The key stops working at once (within a second or two at the gateway and every "
        "service). An unknown, already revoked or another agency's key answers 404."
    ),
    responses={
        403: {"description": "The caller lacks `api_keys.write` or may not give the key's role"},
        404: {"description": "No such live key in this agency"},
    },
)
async def revoke_api_key(
    api_key_id: uuid.UUID, principal: ApiKeysWrite, session: TenantSession, revoker: IdentityRevoker
) -> Response:
    await api_key_service.revoke(session, principal, api_key_id, revoker=revoker)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
