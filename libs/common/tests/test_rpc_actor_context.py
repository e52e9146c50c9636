"""The actor context across a real gRPC call: `rpc.call` sends the caller's context in
metadata and the server's interceptor makes it the servicer's, from trusted peers only."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest

from agencyos.common.actor_context import (
    PRIVATE_NETWORKS,
    ActorContext,
    actor_context,
    current_actor_context,
    parse_networks,
)
from agencyos.common.auth import JwksVerifier, Principal
from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.common.rpc import call, start_grpc_server
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc
from agencyos.testing.infra import free_port
from agencyos.testing.keys import AUDIENCE, ISSUER, TestKeys

SERVICE_NAME = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name


class EchoActor(identity_pb2_grpc.IdentityServiceServicer):
    """Answers GetMember with the actor context the call ran under."""

    async def GetMember(
        self, request: identity_pb2.GetMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Member:
        actor = current_actor_context() or ActorContext()
        return identity_pb2.Member(
            user_id=actor.ip or "", agency_id=actor.user_agent or "", role=actor.request_id or ""
        )


async def serve(jwks_url: str, trusted: tuple[str, ...]) -> tuple[grpc.aio.Server, str]:
    verifier = JwksVerifier(jwks_url, issuer=ISSUER, audience=AUDIENCE)

    def register(server: grpc.aio.Server) -> list[str]:
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(EchoActor(), server)
        return [SERVICE_NAME]

    port = free_port()
    server = await start_grpc_server(
        "actor-context-test",
        verifier,
        register,
        "127.0.0.1",
        port,
        trusted_peers=parse_networks(trusted),
    )
    return server, f"127.0.0.1:{port}"


@pytest.fixture
def caller(test_keys: TestKeys) -> Principal:
    user, agency = uuid.uuid4(), uuid.uuid4()
    return Principal(
        user_id=user,
        tenant_id=agency,
        role=Role.MEMBER,
        permissions=DEFAULT_ROLE_PERMISSIONS[Role.MEMBER],
        token=test_keys.mint(sub=str(user), tid=str(agency), role="member"),
    )


async def echoed(target: str, caller: Principal) -> identity_pb2.Member:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = identity_pb2_grpc.IdentityServiceStub(channel)
        with actor_context(
            ActorContext(ip="203.0.113.9", user_agent="Mozilla/5.0 (ü; x)", request_id="r-42")
        ):
            answer: identity_pb2.Member = await call(
                stub.GetMember, identity_pb2.GetMemberRequest(user_id="x"), principal=caller
            )
    return answer


@pytest.fixture
async def trusting(jwks_url: str) -> AsyncIterator[str]:
    server, target = await serve(jwks_url, PRIVATE_NETWORKS)
    yield target
    await server.stop(None)


@pytest.fixture
async def distrusting(jwks_url: str) -> AsyncIterator[str]:
    server, target = await serve(jwks_url, ())
    yield target
    await server.stop(None)


async def test_the_callers_actor_context_reaches_the_servicer(
    trusting: str, caller: Principal
) -> None:
    answer = await echoed(trusting, caller)

    assert (answer.user_id, answer.agency_id, answer.role) == (
        "203.0.113.9",
        "Mozilla/5.0 (ü; x)",
        "r-42",
    )


async def test_a_server_that_trusts_no_peer_ignores_it(distrusting: str, caller: Principal) -> None:
    answer = await echoed(distrusting, caller)

    assert (answer.user_id, answer.agency_id, answer.role) == ("", "", "")
