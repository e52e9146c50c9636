import uuid
from datetime import UTC, datetime
from typing import Literal

from fastapi import APIRouter, Request, Response, status

from agencyos.common.auth import Principal, bearer_token
from agencyos.common.pagination import Page, Pagination
from agencyos.common.permissions import Role
from agencyos.common.web import TenantSession, service_context
from agencyos.identity.account.endpoints import grant_body
from agencyos.identity.account.schemas import LoginResponse
from agencyos.identity.invitation.permissions import InvitationsWrite
from agencyos.identity.invitation.schemas import (
    Invitation,
    InvitationAccept,
    InvitationCreate,
    InvitationCreated,
    InvitationPreview,
)
from agencyos.identity.invitation.service import (
    InvitationNotFound,
    invitation_service,
    invitation_state,
    invitation_token_tenant,
)
from agencyos.identity.models import Invitation as InvitationRow
from agencyos.identity.session.endpoints import client_info
from agencyos.identity.settings import IdentitySettings

router = APIRouter(tags=["invitations"])


def _out(row: InvitationRow) -> dict[str, object]:
    return {
        "id": row.id,
        "email": row.email,
        "role": Role(row.role),
        "client_id": row.client_id,
        "status": invitation_state(row, datetime.now(UTC)),
        "invited_by": row.invited_by,
        "created_at": row.created_at,
        "expires_at": row.expires_at,
        "accepted_at": row.accepted_at,
        "revoked_at": row.revoked_at,
    }


@router.post(
    "/v1/invitations",
    status_code=status.HTTP_201_CREATED,
    response_model=InvitationCreated,
    summary="Invite someone to the agency with a role",
    description=(
        "Owners may invite with any role, admins with admin and below, managers members and "
        "clients. The token is answered once and emailed (`identity.invitation.created`); a "
        "new invitation to the same address replaces an open one."
    ),
    responses={
        403: {
            "description": "The caller may not give that role, or has not verified their "
            "email address yet (`email-not-verified`)"
        },
        409: {"description": "That person is already a member"},
    },
)
async def create_invitation(
    body: InvitationCreate, principal: InvitationsWrite, session: TenantSession, request: Request
) -> InvitationCreated:
    settings: IdentitySettings = request.app.state.ctx.settings
    new = await invitation_service.invite(
        session,
        settings,
        principal,
        email=str(body.email),
        role=body.role,
        client_id=body.client_id,
    )
    await session.refresh(new.invitation, ["created_at"])
    return InvitationCreated.model_validate({**_out(new.invitation), "token": new.token})


@router.get("/v1/invitations", response_model=Page[Invitation], summary="The agency's invitations")
async def list_invitations(
    principal: InvitationsWrite,
    session: TenantSession,
    pagination: Pagination,
    status: Literal["pending", "accepted", "revoked", "expired"] | None = None,
) -> Page[Invitation]:
    rows, total = await invitation_service.list_invitations(
        session, principal, state=status, page=pagination.page, per_page=pagination.per_page
    )
    return pagination.page_of([Invitation.model_validate(_out(r)) for r in rows], total)


@router.delete(
    "/v1/invitations/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Revoke an open invitation",
)
async def revoke_invitation(
    invitation_id: uuid.UUID, principal: InvitationsWrite, session: TenantSession
) -> Response:
    await invitation_service.revoke(session, principal, invitation_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(
    "/v1/invitations/{token}/accept",
    response_model=InvitationPreview,
    summary="What accepting an invitation would do (the emailed link); accepts nothing",
    description=(
        "The agency, the invited email and role, who invited and until when the invitation "
        "is open. Safe to follow any number of times: accepting is the POST on this path."
    ),
    responses={
        404: {"description": "No such invitation"},
        409: {"description": "Already accepted"},
        410: {"description": "Expired or revoked"},
    },
)
async def preview_invitation(token: str, request: Request) -> InvitationPreview:
    tenant_id = invitation_token_tenant(token)
    if tenant_id is None:
        raise InvitationNotFound("no such invitation; ask for a new one")
    async with service_context(request).database().transaction(tenant_id) as session:
        preview = await invitation_service.preview(session, token=token)
        return InvitationPreview(
            agency_name=preview.agency.name,
            email=preview.invitation.email,
            role=Role(preview.invitation.role),
            inviter_name=preview.inviter.name,
            expires_at=preview.invitation.expires_at,
        )


@router.post(
    "/v1/invitations/{token}/accept",
    status_code=status.HTTP_201_CREATED,
    response_model=LoginResponse,
    summary="Accept an invitation: join the agency and get tokens, as at login",
    description=(
        "A new person sends `name` and `password` (a new account). Someone who already has "
        "an account sends its `password`, or calls this with their access token in the "
        "Authorization header (its email must be the invited one)."
    ),
    responses={
        401: {"description": "The invited email has an account and its password was wrong"},
        403: {
            "description": "The logged-in caller is not the invited email, or the caller's "
            "address is outside the agency's IP allowlist"
        },
        404: {"description": "No such invitation"},
        409: {"description": "Already accepted, or already a member"},
        410: {"description": "Expired or revoked"},
    },
)
async def accept_invitation(token: str, body: InvitationAccept, request: Request) -> LoginResponse:
    ctx = service_context(request)
    settings: IdentitySettings = ctx.settings  # type: ignore[assignment]
    tenant_id = invitation_token_tenant(token)
    if tenant_id is None:
        raise InvitationNotFound("no such invitation; ask for a new one")
    principal: Principal | None = None
    if request.headers.get("authorization"):
        principal = await ctx.verifier.verify(bearer_token(request.headers["authorization"]))
    async with ctx.database().transaction(tenant_id) as session:
        grant = await invitation_service.accept(
            session,
            settings,
            token=token,
            principal=principal,
            name=body.name,
            password=body.password,
            client=client_info(request),
        )
    return LoginResponse.model_validate(grant_body(grant))
