"""gRPC IdentityService: other services ask about members and the agency of the caller."""

from __future__ import annotations

import uuid

import grpc

from agencyos.common.db import Database
from agencyos.common.errors import InvalidInput, NotFound
from agencyos.common.rpc import rpc_principal
from agencyos.identity.account.repository import account_repository
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, db: Database) -> None:
        self.db = db

    async def GetMember(
        self, request: identity_pb2.GetMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Member:
        principal = rpc_principal()
        try:
            user_id = uuid.UUID(request.user_id)
        except ValueError as exc:
            raise InvalidInput("user_id must be a UUID") from exc
        async with self.db.transaction(principal.tenant_id) as session:
            found = await account_repository.membership(session, principal.tenant_id, user_id)
        if found is None:
            raise NotFound("no such member in this agency")
        membership, user = found
        return identity_pb2.Member(
            user_id=str(user.id),
            agency_id=str(membership.tenant_id),
            email=user.email,
            name=user.name,
            role=membership.role,
            status=membership.status,
        )

    async def GetAgency(
        self, request: identity_pb2.GetAgencyRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Agency:
        principal = rpc_principal()
        async with self.db.transaction(principal.tenant_id) as session:
            agency = await account_repository.agency(session, principal.tenant_id)
        if agency is None:
            raise NotFound("the agency no longer exists")
        return identity_pb2.Agency(
            id=str(agency.id),
            slug=agency.slug,
            name=agency.name,
            currency=agency.currency,
            timezone=agency.timezone,
        )
