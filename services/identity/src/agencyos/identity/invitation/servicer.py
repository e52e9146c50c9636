"""gRPC side of invitations (mixed into IdentityServicer): CRM invites a client's contact to
the portal with the caller's own token, through the same rules as `POST /v1/invitations`."""

from __future__ import annotations

import grpc
from pydantic import EmailStr, TypeAdapter, ValidationError

from agencyos.common.errors import InvalidInput
from agencyos.common.rpc import parse_uuid, rpc_principal, rpc_session
from agencyos.identity.invitation.service import invitation_service
from agencyos.identity.settings import IdentitySettings
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc

_EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)


def _email(raw: str) -> str:
    try:
        return str(_EMAIL.validate_python(raw.strip()))
    except ValidationError as exc:
        raise InvalidInput(
            "email is not a valid email address",
            errors=[{"field": "email", "message": "not a valid email address", "type": "email"}],
        ) from exc


class InvitationRpc(identity_pb2_grpc.IdentityServiceServicer):
    settings: IdentitySettings

    async def CreateClientInvitation(
        self,
        request: identity_pb2.CreateClientInvitationRequest,
        context: grpc.aio.ServicerContext,
    ) -> identity_pb2.ClientInvitation:
        principal = rpc_principal()
        email = _email(request.email)
        client_id = parse_uuid(request.client_id, "client_id")
        session = rpc_session()
        new = await invitation_service.invite_client(
            session, self.settings, principal, email=email, client_id=client_id
        )
        await session.refresh(new.invitation, ["created_at"])
        row = new.invitation
        return identity_pb2.ClientInvitation(
            id=str(row.id),
            email=row.email,
            role=row.role,
            client_id=str(row.client_id),
            status="pending",
            invited_by=str(row.invited_by),
            created_at=row.created_at.isoformat(),
            expires_at=row.expires_at.isoformat(),
        )
