"""The portal's web sign-in over identity's gRPC, asked with the service credential: links
for client users (the same empty answer for anyone), spent only for a client user of the
page's agency (a staff member's link, or one of another agency, is refused and stays unspent),
refresh with rotation and reuse detection, sign-out ending the session, branding by slug."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
import httpx
import pytest

from agencyos.common.rpc import SERVICE_CREDENTIAL_METADATA
from agencyos.protos.identity.v1 import identity_pb2
from agencyos.protos.identity.v1.identity_pb2_grpc import IdentityServiceStub
from agencyos.testing.factories import AgencySession, signup_agency
from agencyos.testing.http import unverified_jwt
from agencyos.testing.inprocess import InProcess, ServiceInProcess

REQUESTED = "identity.magic_link.requested"


@pytest.fixture
async def stub(
    in_process: InProcess, identity: httpx.AsyncClient
) -> AsyncIterator[IdentityServiceStub]:
    async with grpc.aio.insecure_channel(await in_process.grpc_target("identity")) as channel:
        yield IdentityServiceStub(channel)


@pytest.fixture
def credential(identity_service: ServiceInProcess) -> list[tuple[str, str]]:
    return [(SERVICE_CREDENTIAL_METADATA, identity_service.settings.service_credential)]


async def refused(call: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await call
    return error.value.code()


async def emailed_token(
    stub: IdentityServiceStub,
    credential: list[tuple[str, str]],
    outbox: Any,
    who: AgencySession,
) -> str:
    await stub.RequestPortalMagicLink(
        identity_pb2.RequestPortalMagicLinkRequest(email=who.email, agency_slug=who.slug),
        metadata=credential,
        timeout=10,
    )
    links = [e["data"] for e in await outbox(REQUESTED) if e["data"]["user_id"] == str(who.user_id)]
    assert links, "no sign-in link was published"
    token: str = links[-1]["token"]
    return token


def redeem(token: str, slug: str) -> identity_pb2.RedeemPortalMagicLinkRequest:
    return identity_pb2.RedeemPortalMagicLinkRequest(token=token, agency_slug=slug)


class TestLinks:
    async def test_without_the_service_credential_nothing_is_answered(
        self, stub: IdentityServiceStub, agency: AgencySession
    ) -> None:
        code = await refused(
            stub.RequestPortalMagicLink(
                identity_pb2.RequestPortalMagicLinkRequest(
                    email=agency.email, agency_slug=agency.slug
                ),
                metadata=[("authorization", f"Bearer {agency.access_token}")],
                timeout=10,
            )
        )

        assert code == grpc.StatusCode.UNAUTHENTICATED

    async def test_a_client_users_link_says_it_is_a_clients(
        self,
        stub: IdentityServiceStub,
        credential: list[tuple[str, str]],
        outbox: Any,
        agency: AgencySession,
        add_member: Any,
    ) -> None:
        client_user = await add_member(agency, "client")

        await emailed_token(stub, credential, outbox, client_user)

        [link] = [
            e["data"]
            for e in await outbox(REQUESTED)
            if e["data"]["user_id"] == str(client_user.user_id)
        ]
        assert link["role"] == "client"
        assert link["agency_slug"] == agency.slug

    async def test_an_unknown_address_gets_the_same_empty_answer_and_no_link(
        self,
        stub: IdentityServiceStub,
        credential: list[tuple[str, str]],
        outbox: Any,
        agency: AgencySession,
    ) -> None:
        before = len(await outbox(REQUESTED))

        answer = await stub.RequestPortalMagicLink(
            identity_pb2.RequestPortalMagicLinkRequest(
                email="nobody@example.com", agency_slug=agency.slug
            ),
            metadata=credential,
            timeout=10,
        )

        assert answer == identity_pb2.RequestPortalMagicLinkResponse()
        assert len(await outbox(REQUESTED)) == before


class TestRedeeming:
    async def test_a_client_users_link_gives_its_tokens_once(
        self,
        stub: IdentityServiceStub,
        credential: list[tuple[str, str]],
        outbox: Any,
        agency: AgencySession,
        add_member: Any,
    ) -> None:
        client_user = await add_member(agency, "client")
        token = await emailed_token(stub, credential, outbox, client_user)

        first = await stub.RedeemPortalMagicLink(
            redeem(token, agency.slug), metadata=credential, timeout=10
        )
        again = await stub.RedeemPortalMagicLink(
            redeem(token, agency.slug), metadata=credential, timeout=10
        )

        assert first.refused == ""
        _, claims = unverified_jwt(first.access_token)
        assert (claims["role"], claims["tid"], claims["amr"]) == (
            "client",
            str(agency.agency_id),
            ["email"],
        )
        assert first.client_id == claims["cid"]
        assert first.refresh_token
        assert again.refused == "invalid_link"
        assert again.access_token == ""

    async def test_a_staff_members_link_is_refused_and_left_unspent(
        self,
        identity: httpx.AsyncClient,
        stub: IdentityServiceStub,
        credential: list[tuple[str, str]],
        outbox: Any,
        agency: AgencySession,
        add_member: Any,
    ) -> None:
        staff = await add_member(agency, "manager")
        token = await emailed_token(stub, credential, outbox, staff)

        code = await refused(
            stub.RedeemPortalMagicLink(redeem(token, agency.slug), metadata=credential, timeout=10)
        )

        assert code == grpc.StatusCode.PERMISSION_DENIED
        still = await identity.post("/v1/auth/magic-link/verify", json={"token": token})
        assert still.status_code == 200, still.text

    async def test_a_link_under_another_agencys_slug_is_refused_and_left_unspent(
        self,
        identity: httpx.AsyncClient,
        stub: IdentityServiceStub,
        credential: list[tuple[str, str]],
        outbox: Any,
        agency: AgencySession,
        add_member: Any,
    ) -> None:
        other = await signup_agency(identity)
        client_user = await add_member(agency, "client")
        token = await emailed_token(stub, credential, outbox, client_user)

        code = await refused(
            stub.RedeemPortalMagicLink(redeem(token, other.slug), metadata=credential, timeout=10)
        )
        home = await stub.RedeemPortalMagicLink(
            redeem(token, agency.slug), metadata=credential, timeout=10
        )

        assert code == grpc.StatusCode.PERMISSION_DENIED
        assert home.refused == ""

    async def test_an_unknown_link_is_refused(
        self, stub: IdentityServiceStub, credential: list[tuple[str, str]], agency: AgencySession
    ) -> None:
        answer = await stub.RedeemPortalMagicLink(
            redeem("ml_not-a-real-one", agency.slug), metadata=credential, timeout=10
        )

        assert answer.refused == "invalid_link"


class TestSession:
    async def signed_in(
        self,
        stub: IdentityServiceStub,
        credential: list[tuple[str, str]],
        outbox: Any,
        who: AgencySession,
    ) -> identity_pb2.PortalSession:
        token = await emailed_token(stub, credential, outbox, who)
        session: identity_pb2.PortalSession = await stub.RedeemPortalMagicLink(
            redeem(token, who.slug), metadata=credential, timeout=10
        )
        assert session.refused == ""
        return session

    async def test_refresh_rotates_and_a_reused_refresh_token_ends_the_session(
        self,
        stub: IdentityServiceStub,
        credential: list[tuple[str, str]],
        outbox: Any,
        agency: AgencySession,
        add_member: Any,
    ) -> None:
        session = await self.signed_in(stub, credential, outbox, await add_member(agency, "client"))

        def refresh(token: str) -> Any:
            return stub.RefreshPortalSession(
                identity_pb2.RefreshPortalSessionRequest(refresh_token=token),
                metadata=credential,
                timeout=10,
            )

        rotated = await refresh(session.refresh_token)
        reused = await refresh(session.refresh_token)
        after_reuse = await refresh(rotated.refresh_token)

        assert rotated.refused == ""
        assert rotated.refresh_token != session.refresh_token
        assert unverified_jwt(rotated.access_token)[1]["role"] == "client"
        assert reused.refused == "invalid_refresh_token"
        assert after_reuse.refused == "invalid_refresh_token"  # the whole session ended

    async def test_ending_the_session_stops_its_refresh_token(
        self,
        stub: IdentityServiceStub,
        credential: list[tuple[str, str]],
        outbox: Any,
        agency: AgencySession,
        add_member: Any,
    ) -> None:
        session = await self.signed_in(stub, credential, outbox, await add_member(agency, "client"))

        await stub.EndPortalSession(
            identity_pb2.EndPortalSessionRequest(refresh_token=session.refresh_token),
            metadata=credential,
            timeout=10,
        )
        answer = await stub.RefreshPortalSession(
            identity_pb2.RefreshPortalSessionRequest(refresh_token=session.refresh_token),
            metadata=credential,
            timeout=10,
        )

        assert answer.refused == "invalid_refresh_token"

    async def test_a_malformed_refresh_token_is_refused_not_an_error(
        self, stub: IdentityServiceStub, credential: list[tuple[str, str]]
    ) -> None:
        answer = await stub.RefreshPortalSession(
            identity_pb2.RefreshPortalSessionRequest(refresh_token="rt_garbage"),
            metadata=credential,
            timeout=10,
        )

        assert answer.refused == "invalid_refresh_token"


class TestBranding:
    async def test_an_agencys_branding_is_found_by_its_slug(
        self,
        identity: httpx.AsyncClient,
        stub: IdentityServiceStub,
        credential: list[tuple[str, str]],
        agency: AgencySession,
    ) -> None:
        patched = await identity.patch(
            "/v1/agency",
            json={"brand_color": "#1A73E8", "logo_url": "https://cdn.example.com/logo.png"},
            headers={"Authorization": f"Bearer {agency.access_token}"},
        )
        assert patched.status_code == 200, patched.text

        branding = await stub.GetAgencyBranding(
            identity_pb2.GetAgencyBrandingRequest(slug=agency.slug), metadata=credential, timeout=10
        )

        assert (branding.id, branding.slug) == (str(agency.agency_id), agency.slug)
        assert branding.brand_color.lower() == "#1a73e8"
        assert branding.logo_url == "https://cdn.example.com/logo.png"

    async def test_no_such_agency_is_not_found(
        self, stub: IdentityServiceStub, credential: list[tuple[str, str]]
    ) -> None:
        code = await refused(
            stub.GetAgencyBranding(
                identity_pb2.GetAgencyBrandingRequest(slug="no-such-agency-here"),
                metadata=credential,
                timeout=10,
            )
        )

        assert code == grpc.StatusCode.NOT_FOUND
