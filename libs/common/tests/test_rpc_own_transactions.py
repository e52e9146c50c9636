"""A gRPC method marked `@own_transactions` runs in no transaction of the server's: it opens
short ones under the caller's agency (`rpc_transactions()`), each committed on its own, so it
can talk to Stripe between them holding nothing. Over a real grpc.aio server, against the
scratch database."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable

import grpc
import pytest

from agencyos.common.auth import JwksVerifier
from agencyos.common.db import Database, current_tenant
from agencyos.common.errors import Conflict
from agencyos.common.rpc import (
    own_transactions,
    rpc_principal,
    rpc_session,
    rpc_transactions,
    start_grpc_server,
)
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc
from agencyos.testing.infra import free_port
from agencyos.testing.keys import AUDIENCE, ISSUER, TestKeys

from .conftest import insert_widget_row

SERVICE_NAME = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name


class StepWriter(identity_pb2_grpc.IdentityServiceServicer):
    """Writes a widget in a first short transaction, then another in a second one, then
    answers or refuses (`conflict-…`): the first step's write stays either way. Reports
    whether the server gave it a transaction of its own."""

    @own_transactions
    async def GetMember(
        self, request: identity_pb2.GetMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Member:
        try:
            rpc_session()
            server_transaction = "yes"
        except RuntimeError:
            server_transaction = "no"
        tx = rpc_transactions()
        principal = rpc_principal()
        async with tx() as session:
            await insert_widget_row(session, principal.tenant_id, f"{request.user_id}-first")
            tenant = await current_tenant(session)
        if request.user_id.startswith("conflict-"):
            raise Conflict("refused after the first step")
        async with tx() as session:
            await insert_widget_row(session, principal.tenant_id, f"{request.user_id}-second")
        return identity_pb2.Member(
            user_id=server_transaction, agency_id=str(tenant), role=principal.role
        )


@pytest.fixture(scope="module")
async def stub(jwks_url: str, db: Database) -> AsyncIterator[identity_pb2_grpc.IdentityServiceStub]:
    verifier = JwksVerifier(jwks_url, issuer=ISSUER, audience=AUDIENCE)

    def register(server: grpc.aio.Server) -> list[str]:
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(StepWriter(), server)
        return [SERVICE_NAME]

    port = free_port()
    server = await start_grpc_server(
        f"rpc-own-tx-{uuid.uuid4().hex[:6]}", verifier, register, "127.0.0.1", port, database=db
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield identity_pb2_grpc.IdentityServiceStub(channel)
    await server.stop(None)
    await verifier.close()


def metadata(keys: TestKeys, tenant: uuid.UUID) -> list[tuple[str, str]]:
    token = keys.mint(sub=str(uuid.uuid4()), tid=str(tenant), role="client", cid=str(tenant))
    return [("authorization", f"Bearer {token}")]


class TestOwnTransactions:
    async def test_each_step_commits_under_the_callers_agency_with_no_server_transaction(
        self,
        stub: identity_pb2_grpc.IdentityServiceStub,
        test_keys: TestKeys,
        tenant: uuid.UUID,
        other_tenant: uuid.UUID,
        widget_count: Callable[..., Awaitable[int]],
    ) -> None:
        answer = await stub.GetMember(
            identity_pb2.GetMemberRequest(user_id="steps"), metadata=metadata(test_keys, tenant)
        )

        assert (answer.user_id, answer.agency_id, answer.role) == ("no", str(tenant), "client")
        assert await widget_count(tenant, "steps-first") == 1
        assert await widget_count(tenant, "steps-second") == 1
        assert await widget_count(other_tenant, "steps-first") == 0

    async def test_a_refusal_after_a_step_keeps_what_that_step_committed(
        self,
        stub: identity_pb2_grpc.IdentityServiceStub,
        test_keys: TestKeys,
        tenant: uuid.UUID,
        widget_count: Callable[..., Awaitable[int]],
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetMember(
                identity_pb2.GetMemberRequest(user_id="conflict-steps"),
                metadata=metadata(test_keys, tenant),
            )

        assert refused.value.code() == grpc.StatusCode.ALREADY_EXISTS
        assert await widget_count(tenant, "conflict-steps-first") == 1
        assert await widget_count(tenant, "conflict-steps-second") == 0

    async def test_a_call_without_a_token_is_refused(
        self, stub: identity_pb2_grpc.IdentityServiceStub
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.GetMember(identity_pb2.GetMemberRequest(user_id="anonymous"))

        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
