"""gRPC helpers over a real grpc.aio server and channel: the caller's token becomes the
servicer's principal, AppErrors cross the wire and come back as the same AppErrors, and the
server answers health checks and reflection."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client import REGISTRY

from agencyos.common.auth import JwksVerifier, Principal
from agencyos.common.errors import (
    AppError,
    NotFound,
    PermissionDenied,
    ServiceUnavailable,
    Unauthenticated,
)
from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.common.rpc import call, rpc_principal, start_grpc_server
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc
from agencyos.testing.infra import free_port, wait_for
from agencyos.testing.keys import AUDIENCE, ISSUER, TestKeys

SERVICE_NAME = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name
GET_MEMBER = f"/{SERVICE_NAME}/GetMember"
MISSING_USER = "00000000-0000-0000-0000-00000000dead"
CRASHING_USER = "crash"
ABORTING_USER = "abort"


class FakeIdentity(identity_pb2_grpc.IdentityServiceServicer):
    """Answers GetMember from the verified caller, the way a real servicer would."""

    async def GetMember(
        self, request: identity_pb2.GetMemberRequest, context: grpc.aio.ServicerContext
    ) -> identity_pb2.Member:
        principal = rpc_principal()
        if request.user_id == MISSING_USER:
            raise NotFound("no such member in this agency")
        if request.user_id == CRASHING_USER:
            raise RuntimeError("secret internal detail")
        if request.user_id == ABORTING_USER:
            await context.abort(grpc.StatusCode.PERMISSION_DENIED, "not for you")
        return identity_pb2.Member(
            user_id=str(principal.user_id),
            agency_id=str(principal.tenant_id),
            role=principal.role.value,
        )


@pytest.fixture(scope="module")
def metrics_label() -> str:
    return f"rpc-test-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
async def grpc_target(jwks_url: str, metrics_label: str) -> AsyncIterator[str]:
    verifier = JwksVerifier(jwks_url, issuer=ISSUER, audience=AUDIENCE)

    def register(server: grpc.aio.Server) -> list[str]:
        identity_pb2_grpc.add_IdentityServiceServicer_to_server(FakeIdentity(), server)
        return [SERVICE_NAME]

    port = free_port()
    server = await start_grpc_server(metrics_label, verifier, register, "127.0.0.1", port)
    yield f"127.0.0.1:{port}"
    await server.stop(None)
    await verifier.close()


@pytest.fixture(scope="module")
async def channel(grpc_target: str) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(grpc_target) as ch:
        yield ch


@pytest.fixture
def identity(channel: grpc.aio.Channel) -> identity_pb2_grpc.IdentityServiceStub:
    return identity_pb2_grpc.IdentityServiceStub(channel)


@pytest.fixture
def caller(test_keys: TestKeys) -> Principal:
    """A principal carrying a real token minted by the published key."""
    user, agency = uuid.uuid4(), uuid.uuid4()
    return Principal(
        user_id=user,
        tenant_id=agency,
        role=Role.MANAGER,
        permissions=DEFAULT_ROLE_PERMISSIONS[Role.MANAGER],
        token=test_keys.mint(sub=str(user), tid=str(agency), role="manager"),
    )


def with_token(principal: Principal, token: str) -> Principal:
    return Principal(
        user_id=principal.user_id,
        tenant_id=principal.tenant_id,
        role=principal.role,
        permissions=principal.permissions,
        token=token,
    )


def grpc_requests(label: str, method: str, code: str) -> float:
    value = REGISTRY.get_sample_value(
        "agencyos_grpc_requests_total", {"service": label, "grpc_method": method, "code": code}
    )
    return value or 0.0


def member_request(user_id: str | None = None) -> identity_pb2.GetMemberRequest:
    return identity_pb2.GetMemberRequest(user_id=user_id or str(uuid.uuid4()))


class TestCallerIdentity:
    async def test_a_call_without_a_token_is_unauthenticated(
        self, identity: identity_pb2_grpc.IdentityServiceStub
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await identity.GetMember(member_request(), timeout=5)

        assert failed.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async def test_a_call_with_a_garbage_token_is_unauthenticated(
        self, identity: identity_pb2_grpc.IdentityServiceStub, caller: Principal
    ) -> None:
        with pytest.raises(Unauthenticated):
            await call(identity.GetMember, member_request(), principal=with_token(caller, "junk"))

    async def test_a_call_with_a_token_for_another_audience_is_unauthenticated(
        self,
        identity: identity_pb2_grpc.IdentityServiceStub,
        caller: Principal,
        test_keys: TestKeys,
    ) -> None:
        foreign = with_token(caller, test_keys.mint(aud="another-api"))

        with pytest.raises(Unauthenticated):
            await call(identity.GetMember, member_request(), principal=foreign)

    async def test_a_call_with_a_token_restricted_to_two_factor_enrollment_is_refused(
        self,
        identity: identity_pb2_grpc.IdentityServiceStub,
        caller: Principal,
        test_keys: TestKeys,
    ) -> None:
        restricted = with_token(
            caller,
            test_keys.mint(
                sub=str(caller.user_id),
                tid=str(caller.tenant_id),
                role="manager",
                restricted="2fa_enrollment",
            ),
        )

        with pytest.raises(PermissionDenied, match="two-factor"):
            await call(identity.GetMember, member_request(), principal=restricted)

    async def test_the_servicer_sees_the_tenant_and_user_of_the_callers_token(
        self, identity: identity_pb2_grpc.IdentityServiceStub, caller: Principal
    ) -> None:
        member = await call(identity.GetMember, member_request(), principal=caller)

        assert (member.agency_id, member.user_id, member.role) == (
            str(caller.tenant_id),
            str(caller.user_id),
            "manager",
        )

    async def test_the_tenant_comes_from_the_token_not_from_the_callers_principal_object(
        self,
        identity: identity_pb2_grpc.IdentityServiceStub,
        caller: Principal,
        test_keys: TestKeys,
    ) -> None:
        real_tenant = uuid.uuid4()
        token = test_keys.mint(sub=str(caller.user_id), tid=str(real_tenant))

        member = await call(
            identity.GetMember, member_request(), principal=with_token(caller, token)
        )

        assert member.agency_id == str(real_tenant)


class TestErrorMapping:
    async def test_not_found_in_the_servicer_comes_back_as_not_found(
        self, identity: identity_pb2_grpc.IdentityServiceStub, caller: Principal
    ) -> None:
        with pytest.raises(NotFound, match="no such member in this agency"):
            await call(identity.GetMember, member_request(MISSING_USER), principal=caller)

    async def test_an_unexpected_exception_comes_back_as_a_generic_internal_error(
        self, identity: identity_pb2_grpc.IdentityServiceStub, caller: Principal
    ) -> None:
        with pytest.raises(AppError) as failed:
            await call(identity.GetMember, member_request(CRASHING_USER), principal=caller)

        assert type(failed.value) is AppError
        assert failed.value.status == 500
        assert "secret" not in failed.value.detail

    async def test_a_status_the_servicer_aborts_with_reaches_the_caller(
        self, identity: identity_pb2_grpc.IdentityServiceStub, caller: Principal
    ) -> None:
        with pytest.raises(PermissionDenied, match="not for you"):
            await call(identity.GetMember, member_request(ABORTING_USER), principal=caller)

    async def test_an_unreachable_peer_answers_service_unavailable(self, caller: Principal) -> None:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{free_port()}") as dead:
            stub = identity_pb2_grpc.IdentityServiceStub(dead)

            with pytest.raises(ServiceUnavailable):
                await call(stub.GetMember, member_request(), principal=caller, timeout=5)


class TestHealthAndReflection:
    async def test_the_health_service_answers_serving_for_the_service(
        self, channel: grpc.aio.Channel
    ) -> None:
        health = health_pb2_grpc.HealthStub(channel)

        answer = await health.Check(health_pb2.HealthCheckRequest(service=SERVICE_NAME), timeout=5)

        assert answer.status == health_pb2.HealthCheckResponse.SERVING

    async def test_the_health_service_answers_serving_for_the_whole_server(
        self, channel: grpc.aio.Channel
    ) -> None:
        health = health_pb2_grpc.HealthStub(channel)

        answer = await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)

        assert answer.status == health_pb2.HealthCheckResponse.SERVING

    async def test_the_health_service_does_not_know_an_unregistered_service(
        self, channel: grpc.aio.Channel
    ) -> None:
        health = health_pb2_grpc.HealthStub(channel)

        with pytest.raises(grpc.aio.AioRpcError) as failed:
            await health.Check(health_pb2.HealthCheckRequest(service="no.such.Service"), timeout=5)

        assert failed.value.code() == grpc.StatusCode.NOT_FOUND

    async def test_reflection_lists_the_service(self, channel: grpc.aio.Channel) -> None:
        reflection = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")

        names: set[str] = set()
        async for answer in reflection.ServerReflectionInfo(iter([request]), timeout=5):
            names |= {s.name for s in answer.list_services_response.service}

        assert SERVICE_NAME in names
        assert "grpc.health.v1.Health" in names


class TestMetrics:
    async def test_calls_are_counted_by_method_and_code(
        self,
        identity: identity_pb2_grpc.IdentityServiceStub,
        caller: Principal,
        metrics_label: str,
    ) -> None:
        codes = ("OK", "NOT_FOUND", "UNAUTHENTICATED")
        before = {code: grpc_requests(metrics_label, GET_MEMBER, code) for code in codes}

        await call(identity.GetMember, member_request(), principal=caller)
        await call(identity.GetMember, member_request(), principal=caller)
        with pytest.raises(NotFound):
            await call(identity.GetMember, member_request(MISSING_USER), principal=caller)
        with pytest.raises(Unauthenticated):
            await call(identity.GetMember, member_request(), principal=with_token(caller, "x"))

        after = {code: grpc_requests(metrics_label, GET_MEMBER, code) for code in codes}
        assert {code: after[code] - before[code] for code in codes} == {
            "OK": 2,
            "NOT_FOUND": 1,
            "UNAUTHENTICATED": 1,
        }

    async def test_a_call_the_servicer_aborts_is_counted_with_the_code_it_aborted_with(
        self,
        identity: identity_pb2_grpc.IdentityServiceStub,
        caller: Principal,
        metrics_label: str,
    ) -> None:
        codes = ("PERMISSION_DENIED", "INTERNAL")
        before = {code: grpc_requests(metrics_label, GET_MEMBER, code) for code in codes}

        with pytest.raises(PermissionDenied):
            await call(identity.GetMember, member_request(ABORTING_USER), principal=caller)

        # The abort reaches the caller before the server's bookkeeping after it has run.
        def counted() -> bool:
            aborted = grpc_requests(metrics_label, GET_MEMBER, "PERMISSION_DENIED")
            return aborted > before["PERMISSION_DENIED"]

        await wait_for(counted, timeout=5)
        after = {code: grpc_requests(metrics_label, GET_MEMBER, code) for code in codes}
        assert {code: after[code] - before[code] for code in codes} == {
            "PERMISSION_DENIED": 1,
            "INTERNAL": 0,
        }

    async def test_health_checks_are_not_counted_as_service_calls(
        self, channel: grpc.aio.Channel, metrics_label: str
    ) -> None:
        health = health_pb2_grpc.HealthStub(channel)
        check = "/grpc.health.v1.Health/Check"
        before = grpc_requests(metrics_label, check, "OK")

        await health.Check(health_pb2.HealthCheckRequest(service=""), timeout=5)

        assert grpc_requests(metrics_label, check, "OK") == before
