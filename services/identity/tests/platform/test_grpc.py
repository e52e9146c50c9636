"""identity's gRPC IdentityService over a real channel to the running service, called the way
other services call it: with the caller's access token in the `authorization` metadata."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import grpc
import httpx
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc
from agencyos.testing.factories import AgencySession, add_member, add_membership, as_caller
from agencyos.testing.platform import Platform


@pytest.fixture
async def grpc_channel(platform: Platform) -> AsyncIterator[grpc.aio.Channel]:
    async with grpc.aio.insecure_channel(platform.grpc_target("identity")) as channel:
        yield channel


@pytest.fixture
def stub(grpc_channel: grpc.aio.Channel) -> identity_pb2_grpc.IdentityServiceStub:
    return identity_pb2_grpc.IdentityServiceStub(grpc_channel)


async def get_member(
    stub: identity_pb2_grpc.IdentityServiceStub, who: AgencySession, user_id: uuid.UUID | str
) -> identity_pb2.Member:
    return await stub.GetMember(
        identity_pb2.GetMemberRequest(user_id=str(user_id)), metadata=as_caller(who), timeout=10
    )


class TestGetMember:
    async def test_the_caller_finds_themselves_in_their_own_agency(
        self, stub: identity_pb2_grpc.IdentityServiceStub, agency: AgencySession
    ) -> None:
        member = await get_member(stub, agency, agency.user_id)

        assert member.user_id == str(agency.user_id)
        assert member.agency_id == str(agency.agency_id)
        assert member.email == agency.email
        assert member.role == "owner"
        assert member.status == "active"

    async def test_another_member_of_the_same_agency_is_found_with_their_role(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: identity_pb2_grpc.IdentityServiceStub,
        agency: AgencySession,
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")

        member = await get_member(stub, agency, manager.user_id)

        assert member.user_id == str(manager.user_id)
        assert member.agency_id == str(agency.agency_id)
        assert member.role == "manager"

    async def test_a_user_of_another_agency_is_not_found(
        self,
        stub: identity_pb2_grpc.IdentityServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_member(stub, agency, other_agency.user_id)

        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    async def test_a_user_who_is_also_in_another_agency_is_answered_for_the_callers_agency(
        self,
        platform: Platform,
        stub: identity_pb2_grpc.IdentityServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        await add_membership(platform, other_agency, agency.user_id, "member")

        as_other = await get_member(stub, other_agency, agency.user_id)

        assert as_other.agency_id == str(other_agency.agency_id)
        assert as_other.role == "member"

    async def test_an_unknown_user_id_is_not_found(
        self, stub: identity_pb2_grpc.IdentityServiceStub, agency: AgencySession
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_member(stub, agency, uuid.uuid4())

        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    async def test_a_user_id_that_is_not_a_uuid_is_an_invalid_argument(
        self, stub: identity_pb2_grpc.IdentityServiceStub, agency: AgencySession
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await get_member(stub, agency, "not-a-uuid")

        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT

    async def test_a_call_without_a_token_is_unauthenticated(
        self, stub: identity_pb2_grpc.IdentityServiceStub, agency: AgencySession
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetMember(
                identity_pb2.GetMemberRequest(user_id=str(agency.user_id)), timeout=10
            )

        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async def test_a_call_with_a_garbage_token_is_unauthenticated(
        self, stub: identity_pb2_grpc.IdentityServiceStub, agency: AgencySession
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetMember(
                identity_pb2.GetMemberRequest(user_id=str(agency.user_id)),
                metadata=[("authorization", "Bearer garbage")],
                timeout=10,
            )

        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


class TestGetAgency:
    async def test_the_caller_gets_their_own_agency(
        self, stub: identity_pb2_grpc.IdentityServiceStub, agency: AgencySession
    ) -> None:
        found = await stub.GetAgency(
            identity_pb2.GetAgencyRequest(), metadata=as_caller(agency), timeout=10
        )

        assert found.id == str(agency.agency_id)
        assert found.slug == agency.slug
        assert found.name
        assert found.currency == "USD"
        assert found.timezone == "UTC"

    async def test_each_caller_gets_only_their_own_agency(
        self,
        stub: identity_pb2_grpc.IdentityServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        mine = await stub.GetAgency(
            identity_pb2.GetAgencyRequest(), metadata=as_caller(agency), timeout=10
        )
        theirs = await stub.GetAgency(
            identity_pb2.GetAgencyRequest(), metadata=as_caller(other_agency), timeout=10
        )

        assert (mine.id, theirs.id) == (str(agency.agency_id), str(other_agency.agency_id))

    async def test_a_call_without_a_token_is_unauthenticated(
        self, stub: identity_pb2_grpc.IdentityServiceStub
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetAgency(identity_pb2.GetAgencyRequest(), timeout=10)

        assert caught.value.code() == grpc.StatusCode.UNAUTHENTICATED


class TestHealth:
    async def test_the_identity_service_reports_serving(
        self, grpc_channel: grpc.aio.Channel
    ) -> None:
        health = health_pb2_grpc.HealthStub(grpc_channel)

        answer = await health.Check(
            health_pb2.HealthCheckRequest(service="agencyos.identity.v1.IdentityService"),
            timeout=10,
        )

        assert answer.status == health_pb2.HealthCheckResponse.SERVING


class TestGetMembers:
    async def test_several_members_come_back_in_the_order_asked_and_strangers_are_left_out(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: identity_pb2_grpc.IdentityServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        asked = [manager.user_id, other_agency.user_id, uuid.uuid4(), agency.user_id]

        response = await stub.GetMembers(
            identity_pb2.GetMembersRequest(user_ids=[str(u) for u in asked]),
            metadata=as_caller(agency),
            timeout=10,
        )

        assert [(m.user_id, m.role) for m in response.members] == [
            (str(manager.user_id), "manager"),
            (str(agency.user_id), "owner"),
        ]
        assert "invoices.write" in response.members[0].permissions

    async def test_a_malformed_id_is_invalid_argument(
        self, stub: identity_pb2_grpc.IdentityServiceStub, agency: AgencySession
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.GetMembers(
                identity_pb2.GetMembersRequest(user_ids=["nope"]),
                metadata=as_caller(agency),
                timeout=10,
            )

        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


class TestCheckPermission:
    async def test_the_answer_follows_the_role_and_overrides_as_they_are_now(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: identity_pb2_grpc.IdentityServiceStub,
        agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")

        async def allowed(permission: str) -> bool:
            response = await stub.CheckPermission(
                identity_pb2.CheckPermissionRequest(
                    user_id=str(member.user_id), permission=permission
                ),
                metadata=as_caller(agency),
                timeout=10,
            )
            return bool(response.allowed)

        assert await allowed("time.write") is True
        assert await allowed("invoices.write") is False
        granted = await gateway.put(
            f"/v1/members/{member.user_id}/permissions",
            json={"granted": ["invoices.write"], "revoked": ["time.write"]},
            headers=agency.headers,
        )
        assert granted.status_code == 200, granted.text
        assert await allowed("time.write") is False
        assert await allowed("invoices.write") is True
        await gateway.post(f"/v1/members/{member.user_id}/suspend", headers=agency.headers)
        assert await allowed("invoices.write") is False

    async def test_another_agencys_member_holds_nothing_here(
        self,
        stub: identity_pb2_grpc.IdentityServiceStub,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        response = await stub.CheckPermission(
            identity_pb2.CheckPermissionRequest(
                user_id=str(other_agency.user_id), permission="agency.read"
            ),
            metadata=as_caller(agency),
            timeout=10,
        )

        assert response.allowed is False

    async def test_an_unknown_permission_is_invalid_argument(
        self, stub: identity_pb2_grpc.IdentityServiceStub, agency: AgencySession
    ) -> None:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await stub.CheckPermission(
                identity_pb2.CheckPermissionRequest(
                    user_id=str(agency.user_id), permission="root.everything"
                ),
                metadata=as_caller(agency),
                timeout=10,
            )

        assert caught.value.code() is grpc.StatusCode.INVALID_ARGUMENT


class TestGetAgencySettings:
    async def test_the_settings_billing_needs_are_in_the_answer(
        self,
        gateway: httpx.AsyncClient,
        stub: identity_pb2_grpc.IdentityServiceStub,
        agency: AgencySession,
    ) -> None:
        changed = await gateway.patch(
            "/v1/agency",
            json={"invoice_prefix": "NW-", "default_tax_rate_bps": 1900, "brand_color": "#112233"},
            headers=agency.headers,
        )
        assert changed.status_code == 200, changed.text

        found = await stub.GetAgency(
            identity_pb2.GetAgencyRequest(), metadata=as_caller(agency), timeout=10
        )

        assert (found.invoice_prefix, found.default_tax_rate_bps, found.brand_color) == (
            "NW-",
            1900,
            "#112233",
        )
        assert found.logo_url == ""
