from typing import Any

from fastapi import APIRouter, Request

from agencyos.common.web import TenantSession
from agencyos.identity.revocations import IdentityRevoker
from agencyos.identity.session.endpoints import client_info
from agencyos.identity.session_policy.permissions import SecurityManage
from agencyos.identity.session_policy.schemas import SessionPolicyBody
from agencyos.identity.session_policy.service import session_policy_service

router = APIRouter(tags=["agency"])

_403: dict[int | str, dict[str, Any]] = {
    403: {"description": "The caller lacks `security.manage` (owners only by default)"}
}


@router.get(
    "/v1/agency/security/sessions",
    response_model=SessionPolicyBody,
    summary="The agency's session policy",
    description="Null limits and an empty allowlist mean none. Needs `security.manage`.",
    responses=_403,
)
async def get_session_policy(
    principal: SecurityManage, session: TenantSession
) -> SessionPolicyBody:
    view = await session_policy_service.get(session, principal)
    return SessionPolicyBody.model_validate(view.as_dict())


@router.put(
    "/v1/agency/security/sessions",
    response_model=SessionPolicyBody,
    summary="Set the agency's session policy",
    description=(
        "Replaces the whole policy. `idle_timeout_minutes`: a session (its refresh token) "
        "not used for that long is refused at its next refresh. `absolute_lifetime_hours`: a "
        "session older than that is refused however it is used. `ip_allowlist` (CIDR "
        "networks; empty = any address): sign-ins, refreshes and every request through the "
        "gateway with the agency's tokens or API keys from another address answer 403. A "
        "changed allowlist applies at once: every access token of the agency issued before, "
        "the caller's own included, is refused (401) from then on; a refresh gets one "
        "carrying the new list, and API keys are re-resolved by the gateway. A list that "
        "leaves out the caller's own address is refused (422), so nobody locks themselves "
        "out. Recorded in the audit log as `agency.session_policy_changed`. Needs "
        "`security.manage`."
    ),
    responses={**_403, 422: {"description": "A network is not valid CIDR, or locks you out"}},
)
async def put_session_policy(
    body: SessionPolicyBody,
    principal: SecurityManage,
    session: TenantSession,
    request: Request,
    revoker: IdentityRevoker,
) -> SessionPolicyBody:
    view = await session_policy_service.replace(
        session,
        principal,
        body,
        caller_ip=client_info(request).ip_address,
        revoker=revoker,
    )
    return SessionPolicyBody.model_validate(view.as_dict())
