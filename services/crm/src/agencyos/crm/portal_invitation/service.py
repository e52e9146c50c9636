"""Portal invitations: a client's contact invited to the agency's client portal, as a client
user bound to that client. CRM checks the client and the contact (the caller's tenant, a
contact of that client, with an email address); identity makes the invitation with the
caller's own token, through its invitation rules, and emails it."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import InvalidInput, NotFound
from agencyos.common.peers.identity import ClientInvitation, IdentityClient
from agencyos.crm.client.repository import client_repository
from agencyos.crm.contact.repository import contact_repository


class PortalInvitationService:
    async def invite_contact(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        client_id: uuid.UUID,
        contact_id: uuid.UUID,
        identity: IdentityClient,
    ) -> ClientInvitation:
        """Raises NotFound for a client or contact the caller's agency does not have (another
        client's contact included), InvalidInput for a contact with no email, and identity's
        Conflict when the person is already a member or invited."""
        # identity checks it too; asked here first so the answer keeps its own problem type.
        principal.require_verified_email("invite people")
        if await client_repository.get(session, client_id) is None:
            raise NotFound("no such client")
        contact = await contact_repository.get(session, client_id, contact_id)
        if contact is None:
            raise NotFound("no such contact of this client")
        if not contact.email:
            raise InvalidInput(
                "the contact has no email address to invite",
                errors=[
                    {"field": "contact_id", "message": "the contact has no email", "type": "value"}
                ],
            )
        return await identity.create_client_invitation(
            principal, email=contact.email, client_id=client_id
        )


portal_invitation_service = PortalInvitationService()
