"""What CRM asks identity about members, over gRPC with the caller's own token."""

from __future__ import annotations

import uuid

from agencyos.common.auth import Principal
from agencyos.common.errors import NotFound
from agencyos.common.rpc import call, channel
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc


class MemberDirectory:
    def __init__(self, identity_target: str, timeout: float) -> None:
        self.identity_target = identity_target
        self.timeout = timeout

    async def is_active_member(self, principal: Principal, user_id: uuid.UUID) -> bool:
        stub = identity_pb2_grpc.IdentityServiceStub(channel(self.identity_target))
        try:
            member = await call(
                stub.GetMember,
                identity_pb2.GetMemberRequest(user_id=str(user_id)),
                principal=principal,
                timeout=self.timeout,
            )
        except NotFound:
            return False
        return bool(member.status == "active")
