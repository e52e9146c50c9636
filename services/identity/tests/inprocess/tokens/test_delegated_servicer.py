"""IssueDelegatedToken: a service (the automation engine) gets a short-lived token for a
member, authenticated by the service credential and by nothing else; the token is the member's
as their login would mint it, names the acting service and the purpose, and dies with the
member's other tokens."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from agencyos.common.rpc import SERVICE_CREDENTIAL_METADATA
from agencyos.common.settings import DevelopmentDefaultInProduction, refuse_development_defaults
from agencyos.identity.settings import IdentitySettings
from agencyos.protos.identity.v1 import identity_pb2
from agencyos.protos.identity.v1.identity_pb2_grpc import IdentityServiceStub
from agencyos.testing.factories import AgencySession, as_caller
from agencyos.testing.http import unverified_jwt
from agencyos.testing.inprocess import InProcess, ServiceInProcess


@pytest.fixture
async def stub(
    in_process: InProcess, identity: httpx.AsyncClient
) -> AsyncIterator[IdentityServiceStub]:
    """identity's own gRPC servicer in this process (asking for `identity` too, so its tables
    are emptied after the test)."""
    async with grpc.aio.insecure_channel(await in_process.grpc_target("identity")) as channel:
        yield IdentityServiceStub(channel)


def credential_of(service: ServiceInProcess) -> list[tuple[str, str]]:
    return [(SERVICE_CREDENTIAL_METADATA, service.settings.service_credential)]


def request_for(who: AgencySession, purpose: str = "automation:test") -> Any:
    return identity_pb2.IssueDelegatedTokenRequest(
        tenant_id=str(who.agency_id), user_id=str(who.user_id), purpose=purpose
    )


async def refused(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value.code()


class TestIssuing:
    async def test_a_manager_gets_a_token_as_their_login_would_mint_it_naming_the_actor(
        self,
        identity: httpx.AsyncClient,
        stub: IdentityServiceStub,
        identity_service: ServiceInProcess,
        agency: AgencySession,
        add_member: Any,
    ) -> None:
        manager = await add_member(agency, "manager")

        answer = await stub.IssueDelegatedToken(
            request_for(manager, "automation:rule-1"),
            metadata=credential_of(identity_service),
            timeout=10,
        )

        _, claims = unverified_jwt(answer.access_token)
        _, login = unverified_jwt(manager.access_token)
        assert claims["sub"] == str(manager.user_id)
        assert claims["tid"] == str(agency.agency_id)
        assert claims["role"] == "manager"
        assert claims["perms"] == login["perms"]
        assert claims["act"] == {"sub": "agencyos-notification"}
        assert claims["purpose"] == "automation:rule-1"
        assert "sid" not in claims
        assert 0 < answer.expires_in <= 300
        assert claims["exp"] - claims["iat"] == answer.expires_in

    async def test_the_token_works_as_the_member_until_they_are_suspended(
        self,
        identity: httpx.AsyncClient,
        stub: IdentityServiceStub,
        identity_service: ServiceInProcess,
        agency: AgencySession,
        add_member: Any,
    ) -> None:
        manager = await add_member(agency, "manager")
        answer = await stub.IssueDelegatedToken(
            request_for(manager), metadata=credential_of(identity_service), timeout=10
        )
        delegated = {"Authorization": f"Bearer {answer.access_token}"}
        me = await identity.get("/v1/me", headers=delegated)
        assert me.status_code == 200, me.text

        suspended = await identity.post(
            f"/v1/members/{manager.user_id}/suspend", headers=agency.headers
        )
        assert suspended.status_code == 200, suspended.text

        after = await identity.get("/v1/me", headers=delegated)
        assert after.status_code == 401, after.text
        again = await refused(
            stub.IssueDelegatedToken(
                request_for(manager), metadata=credential_of(identity_service), timeout=10
            )
        )
        assert again == grpc.StatusCode.FAILED_PRECONDITION


class TestTheCallerMustBeAService:
    async def test_without_a_credential_it_is_refused(
        self, stub: IdentityServiceStub, agency: AgencySession
    ) -> None:
        code = await refused(stub.IssueDelegatedToken(request_for(agency), timeout=10))
        assert code == grpc.StatusCode.UNAUTHENTICATED

    async def test_a_wrong_credential_is_refused(
        self, stub: IdentityServiceStub, identity_service: ServiceInProcess, agency: AgencySession
    ) -> None:
        wrong = identity_service.settings.service_credential + "x"
        code = await refused(
            stub.IssueDelegatedToken(
                request_for(agency), metadata=[(SERVICE_CREDENTIAL_METADATA, wrong)], timeout=10
            )
        )
        assert code == grpc.StatusCode.UNAUTHENTICATED

    async def test_an_owners_bearer_token_is_not_a_credential(
        self, stub: IdentityServiceStub, agency: AgencySession
    ) -> None:
        code = await refused(
            stub.IssueDelegatedToken(request_for(agency), metadata=as_caller(agency), timeout=10)
        )
        assert code == grpc.StatusCode.UNAUTHENTICATED

    async def test_an_owners_token_with_a_wrong_credential_is_refused(
        self, stub: IdentityServiceStub, agency: AgencySession
    ) -> None:
        metadata = [*as_caller(agency), (SERVICE_CREDENTIAL_METADATA, "guess")]
        code = await refused(
            stub.IssueDelegatedToken(request_for(agency), metadata=metadata, timeout=10)
        )
        assert code == grpc.StatusCode.UNAUTHENTICATED

    async def test_the_credential_opens_no_other_method(
        self, stub: IdentityServiceStub, identity_service: ServiceInProcess, agency: AgencySession
    ) -> None:
        code = await refused(
            stub.GetMember(
                identity_pb2.GetMemberRequest(user_id=str(agency.user_id)),
                metadata=credential_of(identity_service),
                timeout=10,
            )
        )
        assert code == grpc.StatusCode.UNAUTHENTICATED


class TestOnlyActiveMembers:
    async def test_a_suspended_member_gets_no_token(
        self,
        identity: httpx.AsyncClient,
        stub: IdentityServiceStub,
        identity_service: ServiceInProcess,
        agency: AgencySession,
        add_member: Any,
    ) -> None:
        member = await add_member(agency, "member")
        suspended = await identity.post(
            f"/v1/members/{member.user_id}/suspend", headers=agency.headers
        )
        assert suspended.status_code == 200, suspended.text

        code = await refused(
            stub.IssueDelegatedToken(
                request_for(member), metadata=credential_of(identity_service), timeout=10
            )
        )
        assert code == grpc.StatusCode.FAILED_PRECONDITION

    async def test_a_member_of_another_agency_gets_no_token_in_this_one(
        self,
        stub: IdentityServiceStub,
        identity_service: ServiceInProcess,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        request = identity_pb2.IssueDelegatedTokenRequest(
            tenant_id=str(agency.agency_id), user_id=str(other_agency.user_id), purpose="x"
        )
        code = await refused(
            stub.IssueDelegatedToken(request, metadata=credential_of(identity_service), timeout=10)
        )
        assert code == grpc.StatusCode.FAILED_PRECONDITION

    async def test_an_unknown_user_gets_no_token(
        self, stub: IdentityServiceStub, identity_service: ServiceInProcess, agency: AgencySession
    ) -> None:
        request = identity_pb2.IssueDelegatedTokenRequest(
            tenant_id=str(agency.agency_id), user_id=str(uuid.uuid4()), purpose="x"
        )
        code = await refused(
            stub.IssueDelegatedToken(request, metadata=credential_of(identity_service), timeout=10)
        )
        assert code == grpc.StatusCode.FAILED_PRECONDITION

    @pytest.mark.parametrize(
        "purpose", ["", "   ", "x" * 201, "line\nbreak"], ids=["empty", "blank", "long", "newline"]
    )
    async def test_a_purpose_must_be_a_short_printable_line(
        self,
        stub: IdentityServiceStub,
        identity_service: ServiceInProcess,
        agency: AgencySession,
        purpose: str,
    ) -> None:
        code = await refused(
            stub.IssueDelegatedToken(
                request_for(agency, purpose), metadata=credential_of(identity_service), timeout=10
            )
        )
        assert code == grpc.StatusCode.INVALID_ARGUMENT


class TestSettings:
    def test_production_refuses_the_development_service_credential(self) -> None:
        with pytest.raises(DevelopmentDefaultInProduction, match="SERVICE_CREDENTIAL"):
            refuse_development_defaults(IdentitySettings(environment="production"))

    def test_production_starts_with_a_credential_of_its_own(self) -> None:
        refuse_development_defaults(
            IdentitySettings(
                environment="production",
                service_credential="s3cret",
                key_encryption_key="kek-of-its-own",
                public_base_url="https://api.example.com",
            )
        )

    def test_a_delegated_token_lives_at_most_five_minutes(self) -> None:
        with pytest.raises(ValueError, match="delegated_token_ttl_seconds"):
            IdentitySettings(delegated_token_ttl_seconds=301)
