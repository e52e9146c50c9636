import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response, status

from agencyos.common.pagination import Page, Pagination
from agencyos.common.peers.crm import CrmClient
from agencyos.common.permissions import Role
from agencyos.common.types import Name
from agencyos.common.web import CurrentPrincipal, TenantSession
from agencyos.identity.member.permissions import MemberOverridesWrite, MembersRead, MembersWrite
from agencyos.identity.member.schemas import (
    Member,
    MemberUpdate,
    OwnershipTransfer,
    PermissionOverrides,
)
from agencyos.identity.member.service import MemberView, member_service
from agencyos.identity.revocations import IdentityRevoker
from agencyos.identity.settings import IdentitySettings

router = APIRouter(tags=["members"])

_TOKEN_LIFETIME = (
    " The member's access tokens issued before the change stop working in this agency at "
    "once (within a second or two everywhere); the next one they get carries the change."
)
_LAST_OWNER: dict[int | str, dict[str, Any]] = {
    409: {"description": "It would leave the agency without an active owner"}
}


def member_out(view: MemberView) -> Member:
    m, u = view.membership, view.user
    return Member(
        user_id=u.id,
        email=u.email,
        name=u.name,
        role=Role(m.role),
        status=m.status,
        client_id=m.client_id,
        permissions=sorted(view.permissions),
        granted_permissions=sorted(m.granted_permissions or []),
        revoked_permissions=sorted(m.revoked_permissions or []),
        joined_at=m.created_at,
        updated_at=m.updated_at,
    )


@router.get("/v1/members", response_model=Page[Member], summary="The agency's members")
async def list_members(
    principal: MembersRead,
    session: TenantSession,
    pagination: Pagination,
    q: Annotated[Name | None, Query(max_length=200, description="Name or email contains")] = None,
    role: Role | None = None,
    status: Literal["active", "suspended"] | None = None,
) -> Page[Member]:
    views, total = await member_service.list_members(
        session,
        principal,
        q=q,
        role=role,
        status=status,
        page=pagination.page,
        per_page=pagination.per_page,
    )
    return pagination.page_of([member_out(v) for v in views], total)


@router.get("/v1/members/{user_id}", response_model=Member, summary="One member")
async def get_member(user_id: uuid.UUID, principal: MembersRead, session: TenantSession) -> Member:
    return member_out(await member_service.get(session, principal, user_id))


@router.patch(
    "/v1/members/{user_id}",
    response_model=Member,
    summary="Change a member's role",
    description=(
        "Owners may give any role; admins admin and below; nobody changes a member whose "
        "current role they could not give. A client member must name its CRM `client_id`."
        + _TOKEN_LIFETIME
    ),
    responses=_LAST_OWNER,
)
async def change_role(
    user_id: uuid.UUID,
    body: MemberUpdate,
    principal: MembersWrite,
    session: TenantSession,
    request: Request,
    revoker: IdentityRevoker,
) -> Member:
    settings: IdentitySettings = request.app.state.ctx.settings
    view = await member_service.change_role(
        session,
        principal,
        user_id,
        role=body.role,
        client_id=body.client_id,
        crm=CrmClient.of(settings),
        revoker=revoker,
    )
    return member_out(view)


@router.post(
    "/v1/members/{user_id}/suspend",
    response_model=Member,
    summary="Suspend a member",
    description=(
        "The member can no longer log in to or refresh tokens in this agency; their sessions "
        "here are revoked. The membership stays and can be reactivated." + _TOKEN_LIFETIME
    ),
    responses=_LAST_OWNER,
)
async def suspend_member(
    user_id: uuid.UUID, principal: MembersWrite, session: TenantSession, revoker: IdentityRevoker
) -> Member:
    return member_out(await member_service.suspend(session, principal, user_id, revoker=revoker))


@router.post(
    "/v1/members/{user_id}/reactivate", response_model=Member, summary="Reactivate a member"
)
async def reactivate_member(
    user_id: uuid.UUID, principal: MembersWrite, session: TenantSession
) -> Member:
    return member_out(await member_service.reactivate(session, principal, user_id))


@router.delete(
    "/v1/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Remove a member (or leave the agency: your own id)",
    description="Ends the membership and revokes the member's sessions here." + _TOKEN_LIFETIME,
    responses=_LAST_OWNER,
)
async def remove_member(
    user_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: TenantSession,
    revoker: IdentityRevoker,
) -> Response:
    await member_service.remove(session, principal, user_id, revoker=revoker)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/v1/members/{user_id}/transfer-ownership",
    response_model=OwnershipTransfer,
    summary="Make this member the owner; the calling owner becomes an admin",
    responses={403: {"description": "Only an owner transfers ownership"}},
)
async def transfer_ownership(
    user_id: uuid.UUID,
    principal: CurrentPrincipal,
    session: TenantSession,
    revoker: IdentityRevoker,
) -> OwnershipTransfer:
    new_owner, previous = await member_service.transfer_ownership(
        session, principal, user_id, revoker=revoker
    )
    return OwnershipTransfer(new_owner=member_out(new_owner), previous_owner=member_out(previous))


@router.put(
    "/v1/members/{user_id}/permissions",
    response_model=Member,
    summary="Set a member's permission overrides (owners)",
    description=(
        "`granted` adds permissions on top of the member's role, `revoked` takes some away; "
        "both replace what was set before. Owners take no overrides." + _TOKEN_LIFETIME
    ),
)
async def set_permission_overrides(
    user_id: uuid.UUID,
    body: PermissionOverrides,
    principal: MemberOverridesWrite,
    session: TenantSession,
    revoker: IdentityRevoker,
) -> Member:
    view = await member_service.set_overrides(
        session, principal, user_id, granted=body.granted, revoked=body.revoked, revoker=revoker
    )
    return member_out(view)
