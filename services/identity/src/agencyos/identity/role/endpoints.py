from fastapi import APIRouter

from agencyos.common.permissions import ALL_PERMISSIONS, Role
from agencyos.common.web import TenantSession
from agencyos.identity.revocations import IdentityRevoker
from agencyos.identity.role.permissions import RolesRead, RolesWrite
from agencyos.identity.role.schemas import RoleOut, RolePermissionsUpdate, RolesResponse
from agencyos.identity.role.service import RoleView, role_service

router = APIRouter(tags=["roles"])


def _out(view: RoleView) -> RoleOut:
    return RoleOut(
        role=view.role,
        permissions=sorted(view.permissions),
        default_permissions=sorted(view.default_permissions),
        customized=view.customized,
        tunable=view.tunable,
    )


@router.get(
    "/v1/roles",
    response_model=RolesResponse,
    summary="Every role and the permissions it holds in this agency",
)
async def list_roles(principal: RolesRead, session: TenantSession) -> RolesResponse:
    views = await role_service.list_roles(session, principal.tenant_id)
    return RolesResponse(items=[_out(v) for v in views], all_permissions=sorted(ALL_PERMISSIONS))


@router.put(
    "/v1/roles/{role}",
    response_model=RoleOut,
    summary="Tune a role's permissions for this agency (owners)",
    description=(
        "Replaces the role's permission set in this agency. Members with the role get it on "
        "their next access token; when the role loses a permission, their tokens issued "
        "before stop working at once. The owner role cannot be tuned."
    ),
    responses={403: {"description": "Only owners (`roles.write`) tune roles"}},
)
async def tune_role(
    role: Role,
    body: RolePermissionsUpdate,
    principal: RolesWrite,
    session: TenantSession,
    revoker: IdentityRevoker,
) -> RoleOut:
    return _out(
        await role_service.tune(session, principal, role, body.permissions, revoker=revoker)
    )


@router.post(
    "/v1/roles/{role}/reset",
    response_model=RoleOut,
    summary="Put a role back to the platform's default permissions (owners)",
)
async def reset_role(
    role: Role, principal: RolesWrite, session: TenantSession, revoker: IdentityRevoker
) -> RoleOut:
    return _out(await role_service.reset(session, principal, role, revoker=revoker))
