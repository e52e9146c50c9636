"""`@service_authenticated` methods over a real grpc.aio server: they demand the service
credential (compared in constant time) and take no person's token in its place; a server
configured without a credential admits nobody to them; the credential opens no other method;
and the mark refuses to run a method the interceptor did not admit."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest

from agencyos.common.auth import JwksVerifier
from agencyos.common.errors import Unauthenticated
from agencyos.common.rpc import (
    SERVICE_CREDENTIAL_METADATA,
    rpc_principal,
    service_authenticated,
    start_grpc_server,
)
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc
from agencyos.protos.identity.v1.identity_pb2_grpc import IdentityServiceStub
from agencyos.testing.infra import free_port
from agencyos.testing.keys import AUDIENCE, ISSUER, TestKeys

SERVICE_NAME = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name
CREDENTIAL = "a-service-credential-for-tests"


class FakeIdentity(identity_pb2_grpc.IdentityServiceServicer):
    @service_authenticated
    async def IssueDelegatedToken(
        self, request: identity_pb2.IssueDelegatedTokenRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.DelegatedToken:
        return identity_pb2.DelegatedToken(access_token="issued", expires_in=60)

    async def GetMember(
        self, request: identity_pb2.GetMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Member:
        return identity_pb2.Member(user_id=str(rpc_principal().user_id))


async def _serve(jwks_url: str, credential: str) -> AsyncIterator[IdentityServiceStub]:
    verifier = JwksVerifier(jwks_url, issuer=ISSUER, audience=AUDIENCE)

    def register(server: grpc.aio.Server) -> list[str]:
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(FakeIdentity(), server)
        return [SERVICE_NAME]

    port = free_port()
    server = await start_grpc_server(
        f"svc-auth-{uuid.uuid4().hex[:6]}",
        verifier,
        register,
        "127.0.0.1",
        port,
        service_credential=credential,
    )
    async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield IdentityServiceStub(channel)
    await server.stop(None)
    await verifier.close()


@pytest.fixture
async def identity(jwks_url: str) -> AsyncIterator[IdentityServiceStub]:
    async for stub in _serve(jwks_url, CREDENTIAL):
        yield stub


@pytest.fixture
async def unconfigured(jwks_url: str) -> AsyncIterator[IdentityServiceStub]:
    async for stub in _serve(jwks_url, ""):
        yield stub


def owner_token(test_keys: TestKeys) -> str:
    return test_keys.mint(sub=str(uuid.uuid4()), tid=str(uuid.uuid4()), role="owner")


async def code_of(call: object) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call  # type: ignore[misc]
    return error.value.code()


REQUEST = identity_pb2.IssueDelegatedTokenRequest()


class TestServiceAuthenticated:
    async def test_the_credential_admits_the_caller(self, identity: IdentityServiceStub) -> None:
        answer = await identity.IssueDelegatedToken(
            REQUEST, metadata=[(SERVICE_CREDENTIAL_METADATA, CREDENTIAL)], timeout=5
        )
        assert answer.access_token == "issued"

    @pytest.mark.parametrize(
        "presented",
        ["", "a-service-credential-for-test", CREDENTIAL + "s", CREDENTIAL.upper()],
        ids=["empty", "prefix", "longer", "other-case"],
    )
    async def test_anything_but_the_credential_is_refused(
        self, identity: IdentityServiceStub, presented: str
    ) -> None:
        code = await code_of(
            identity.IssueDelegatedToken(
                REQUEST, metadata=[(SERVICE_CREDENTIAL_METADATA, presented)], timeout=5
            )
        )
        assert code == grpc.StatusCode.UNAUTHENTICATED

    async def test_a_valid_owner_token_is_no_credential(
        self, identity: IdentityServiceStub, test_keys: TestKeys
    ) -> None:
        metadata = [("authorization", f"Bearer {owner_token(test_keys)}")]
        code = await code_of(identity.IssueDelegatedToken(REQUEST, metadata=metadata, timeout=5))
        assert code == grpc.StatusCode.UNAUTHENTICATED

    async def test_a_server_without_a_credential_admits_nobody(
        self, unconfigured: IdentityServiceStub
    ) -> None:
        for metadata in ([], [(SERVICE_CREDENTIAL_METADATA, "")]):
            code = await code_of(
                unconfigured.IssueDelegatedToken(REQUEST, metadata=metadata, timeout=5)
            )
            assert code == grpc.StatusCode.UNAUTHENTICATED

    async def test_the_credential_opens_no_ordinary_method(
        self, identity: IdentityServiceStub
    ) -> None:
        code = await code_of(
            identity.GetMember(
                identity_pb2.GetMemberRequest(),
                metadata=[(SERVICE_CREDENTIAL_METADATA, CREDENTIAL)],
                timeout=5,
            )
        )
        assert code == grpc.StatusCode.UNAUTHENTICATED

    async def test_a_marked_method_refuses_to_run_unless_the_interceptor_admitted_it(
        self,
    ) -> None:
        with pytest.raises(Unauthenticated):
            await FakeIdentity().IssueDelegatedToken(REQUEST, None)  # type: ignore[arg-type]
