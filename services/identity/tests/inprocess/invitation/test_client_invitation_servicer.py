"""CreateClientInvitation: CRM invites a client's contact to the portal with the caller's own
token, through identity's invitation rules. Its refusals are decided here before CRM is asked
whether the client exists (the whole way, with CRM answering, is the portal sign-in platform
journey: CRM's in-process stand-in accepts only test-key tokens, not identity's)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.identity.v1 import identity_pb2
from agencyos.protos.identity.v1.identity_pb2_grpc import IdentityServiceStub
from agencyos.testing.factories import AgencySession, invite, signup_agency
from agencyos.testing.inprocess import InProcess


@pytest.fixture
async def stub(
    in_process: InProcess, identity: httpx.AsyncClient
) -> AsyncIterator[IdentityServiceStub]:
    async with grpc.aio.insecure_channel(await in_process.grpc_target("identity")) as channel:
        yield IdentityServiceStub(channel)


def as_(who: AgencySession) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {who.access_token}")]


async def create(
    stub: IdentityServiceStub, who: AgencySession, email: str, client_id: Any = None
) -> identity_pb2.ClientInvitation:
    request = identity_pb2.CreateClientInvitationRequest(
        email=email, client_id=str(client_id or uuid.uuid4())
    )
    answer: identity_pb2.ClientInvitation = await stub.CreateClientInvitation(
        request, metadata=as_(who), timeout=10
    )
    return answer


async def refused(call: Any) -> tuple[grpc.StatusCode, str]:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value.code(), error.value.details() or ""


class TestRefusals:
    async def test_a_member_without_members_invite_is_denied(
        self, stub: IdentityServiceStub, agency: AgencySession, add_member: Any
    ) -> None:
        member = await add_member(agency, "member")

        code, _ = await refused(create(stub, member, "contact@example.com"))

        assert code == grpc.StatusCode.PERMISSION_DENIED

    async def test_an_inviter_whose_email_is_unverified_is_denied(
        self, stub: IdentityServiceStub, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity, verified=False)

        code, details = await refused(create(stub, owner, "contact@example.com"))

        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert "verif" in details

    async def test_a_person_already_in_the_agency_is_already_exists(
        self, stub: IdentityServiceStub, agency: AgencySession, add_member: Any
    ) -> None:
        member = await add_member(agency, "member")

        code, _ = await refused(create(stub, agency, member.email.upper()))

        assert code == grpc.StatusCode.ALREADY_EXISTS

    async def test_an_address_with_an_open_invitation_is_already_exists(
        self, stub: IdentityServiceStub, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        email = f"contact-{uuid.uuid4().hex[:8]}@example.com"
        await invite(identity, agency, email, "member")

        code, _ = await refused(create(stub, agency, email))

        assert code == grpc.StatusCode.ALREADY_EXISTS

    async def test_a_member_of_another_agency_is_not_refused_as_a_member(
        self, stub: IdentityServiceStub, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        """Another agency's member is a new person here: the call goes on to ask CRM about
        the client (whose stand-in does not accept identity's token), not ALREADY_EXISTS."""
        code, _ = await refused(create(stub, agency, other_agency.email))

        assert code != grpc.StatusCode.ALREADY_EXISTS

    @pytest.mark.parametrize(
        ("email", "client_id"), [("not-an-email", None), ("a@example.com", "nope")]
    )
    async def test_bad_fields_are_invalid_argument(
        self, stub: IdentityServiceStub, agency: AgencySession, email: str, client_id: Any
    ) -> None:
        code, _ = await refused(create(stub, agency, email, client_id))

        assert code == grpc.StatusCode.INVALID_ARGUMENT

    async def test_no_token_is_unauthenticated(self, stub: IdentityServiceStub) -> None:
        request = identity_pb2.CreateClientInvitationRequest(
            email="a@example.com", client_id=str(uuid.uuid4())
        )

        code, _ = await refused(stub.CreateClientInvitation(request, timeout=10))

        assert code == grpc.StatusCode.UNAUTHENTICATED
