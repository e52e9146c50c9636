import uuid
from dataclasses import asdict

from fastapi import APIRouter, Request, status

from agencyos.common.peers.identity import IdentityClient
from agencyos.common.web import TenantSession, service_context
from agencyos.crm.portal_invitation.permissions import PortalInvitationsWrite
from agencyos.crm.portal_invitation.schemas import PortalInvitation, PortalInvitationCreate
from agencyos.crm.portal_invitation.service import portal_invitation_service

router = APIRouter(prefix="/v1/clients/{client_id}/portal-invitations", tags=["clients"])


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=PortalInvitation,
    summary="Invite a client's contact to the client portal",
    description=(
        "The contact's email is invited to the agency as a client user bound to this client "
        "(identity's invitation, emailed to them; the token is never answered). Needs "
        "`clients.read` and `members.invite` (managers and above), and a verified email "
        "address."
    ),
    responses={
        403: {"description": "The caller may not invite people, or has not verified their email"},
        404: {"description": "No such client in your agency, or no such contact of it"},
        409: {"description": "The contact's email is already a member of the agency or invited"},
        422: {"description": "The contact has no email address"},
    },
)
async def invite_contact(
    client_id: uuid.UUID,
    body: PortalInvitationCreate,
    principal: PortalInvitationsWrite,
    session: TenantSession,
    request: Request,
) -> PortalInvitation:
    invitation = await portal_invitation_service.invite_contact(
        session,
        principal,
        client_id=client_id,
        contact_id=body.contact_id,
        identity=IdentityClient.of(service_context(request).settings),
    )
    return PortalInvitation(**asdict(invitation), contact_id=body.contact_id)
