import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response, status

from agencyos.common.actor_context import clean_user_agent, current_actor_context
from agencyos.common.errors import Unauthenticated
from agencyos.common.logs import get_logger
from agencyos.common.pagination import Page, Pagination
from agencyos.common.web import (
    CurrentPrincipal,
    CurrentPrincipalEvenRestricted,
    TenantSession,
    TenantSessionEvenRestricted,
    service_context,
)
from agencyos.identity.account.schemas import TokenResponse
from agencyos.identity.revocations import IdentityRevoker
from agencyos.identity.session.schemas import LogoutRequest, RefreshRequest, Session
from agencyos.identity.session.service import RefreshRefusal, session_service
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.tokens.issuer import ClientInfo, refresh_token_tenant

log = get_logger(__name__)

router = APIRouter(tags=["sessions"])

# One answer for every refused refresh, so a caller learns nothing about why.
_REFRESH_REFUSED = "the refresh token is not valid; log in again"

_ACCESS_TOKENS_STOP = (
    " The session's refresh token and the access tokens already issued in it stop working "
    "at once (within a second or two at the gateway and every service)."
)


def client_info(request: Request) -> ClientInfo:
    """The caller's user agent and IP address as the request's actor context has them: the
    client's real address (the gateway's word, believed from trusted peers only), not the
    gateway's."""
    actor = current_actor_context()
    if actor is None:  # outside the common web layer (never in a served app)
        return ClientInfo(
            user_agent=clean_user_agent(request.headers.get("user-agent")),
            ip_address=request.client.host if request.client else None,
        )
    return ClientInfo(user_agent=actor.user_agent, ip_address=actor.ip)


@router.post(
    "/v1/auth/refresh",
    response_model=TokenResponse,
    tags=["auth"],
    summary="Trade a refresh token for a new token pair (the old refresh token is spent)",
    description=(
        "Refresh tokens rotate: each one works once. Presenting a spent refresh token again "
        "ends its whole session (every token of the family), because it means the token was "
        "copied. The agency's session policy (GET /v1/agency/security/sessions) ends a session "
        "unused longer than its idle timeout or older than its absolute lifetime. Every "
        "refusal is the same 401, but for a caller outside the agency's IP allowlist (403). "
        "The new access token carries the user's role, permissions, `email_verified` and the "
        "agency's allowlist as they are now: refresh after verifying your email address."
    ),
    responses={
        401: {"description": "The refresh token is unknown, spent, expired or revoked"},
        403: {"description": "The caller's address is outside the agency's IP allowlist"},
    },
)
async def refresh(
    body: RefreshRequest, request: Request, revoker: IdentityRevoker
) -> TokenResponse:
    tenant_id = refresh_token_tenant(body.refresh_token)
    if tenant_id is None:
        raise Unauthenticated(_REFRESH_REFUSED)
    settings: IdentitySettings = request.app.state.ctx.settings
    # The token names its agency; the transaction runs under it, so the ordinary tenant
    # policy finds the row. It commits before a refusal is raised: reuse revocation sticks.
    async with service_context(request).database().transaction(tenant_id) as session:
        outcome = await session_service.refresh(
            session,
            settings,
            refresh_token=body.refresh_token,
            client=client_info(request),
            revoker=revoker,
        )
    if isinstance(outcome, RefreshRefusal):
        level = log.warning if outcome is RefreshRefusal.REUSED else log.info
        level("refresh refused", reason=outcome.value, tenant_id=str(tenant_id))
        raise Unauthenticated(_REFRESH_REFUSED)
    return TokenResponse(
        access_token=outcome.access_token,
        refresh_token=outcome.refresh_token,
        expires_in=outcome.expires_in,
    )


@router.post(
    "/v1/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    tags=["auth"],
    summary="End the current session",
    description=(
        "Revokes the session the access token belongs to, and the one the optional "
        "`refresh_token` belongs to if it is the caller's." + _ACCESS_TOKENS_STOP + " A "
        "token restricted to two-factor enrollment may call this."
    ),
)
async def logout(
    principal: CurrentPrincipalEvenRestricted,
    session: TenantSessionEvenRestricted,
    revoker: IdentityRevoker,
    body: LogoutRequest | None = None,
) -> Response:
    await session_service.logout(
        session, principal, refresh_token=body.refresh_token if body else None, revoker=revoker
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/v1/sessions",
    response_model=Page[Session],
    summary="The caller's active sessions in this agency",
)
async def list_sessions(
    principal: CurrentPrincipal, session: TenantSession, pagination: Pagination
) -> Page[Session]:
    views, total = await session_service.list_sessions(
        session, principal, page=pagination.page, per_page=pagination.per_page
    )
    return pagination.page_of(
        [Session.model_validate(v, from_attributes=True) for v in views], total
    )


@router.delete(
    "/v1/sessions/{session_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke one of the caller's sessions",
    description="Another user's or another agency's session id answers 404." + _ACCESS_TOKENS_STOP,
    responses={404: {"description": "No such active session of the caller's"}},
)
async def revoke_session(
    session_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: TenantSession,
    revoker: IdentityRevoker,
) -> Response:
    await session_service.revoke(session, principal, session_id, revoker=revoker)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/sessions/revoke-all",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke all the caller's sessions in this agency (but the current one)",
    description="Keeps the calling session unless `include_current=true`." + _ACCESS_TOKENS_STOP,
)
async def revoke_all_sessions(
    principal: CurrentPrincipal,
    session: TenantSession,
    revoker: IdentityRevoker,
    include_current: Annotated[
        bool, Query(description="Also end the session making this call")
    ] = False,
) -> Response:
    await session_service.revoke_all(
        session, principal, include_current=include_current, revoker=revoker
    )
    return Response(status_code=status.HTTP_204_NO_CONTENT)
