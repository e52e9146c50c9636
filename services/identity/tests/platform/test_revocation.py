"""Revoked access tokens stop at once, everywhere: an attacker holding a token (or an API key)
from before a logout, a revoke-all, a reused refresh token, a suspension, a removal, a role
downgrade, a narrower permission set or a key revocation gets 401 within seconds, through the
gateway on a real write AND sent straight to a service's own HTTP or gRPC port; while the
sessions the revocation did not name (another session, the same user in another agency, the
user's fresh token) keep working. Real platform: identity writes the revocation to the real
Redis, the gateway, CRM and identity's gRPC server read it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
import httpx
import pytest

from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc
from agencyos.testing.factories import (
    PASSWORD,
    AgencySession,
    add_member,
    add_membership,
    refreshed,
)
from agencyos.testing.http import assert_problem, unverified_jwt
from agencyos.testing.kafka import events_where, read_topic
from agencyos.testing.platform import Platform

# Revocation is written before the revoking request answers; the deadline only absorbs a
# loaded test machine. (Before revocation was checked, tokens lived 15 minutes.)
DEADLINE_SECONDS = 2.0


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def create_client(client: httpx.AsyncClient, token: str) -> httpx.Response:
    """A real write: a CRM client company."""
    return await client.post(
        "/v1/clients",
        json={"company_name": f"Client {uuid.uuid4().hex[:8]}"},
        headers=bearer(token),
    )


async def refused_within(
    attempt: Callable[[], Awaitable[httpx.Response]], seconds: float = DEADLINE_SECONDS
) -> httpx.Response:
    """Repeat `attempt` until it is answered 401 or `seconds` pass; the last answer."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        response = await attempt()
        if response.status_code == 401 or loop.time() > deadline:
            return response
        await asyncio.sleep(0.1)


def assert_revoked(response: httpx.Response) -> None:
    assert_problem(response, 401, "unauthenticated")


@pytest.fixture
async def crm(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    """CRM's own HTTP port: no gateway in between."""
    async with httpx.AsyncClient(base_url=platform.url("crm"), timeout=30.0) as client:
        yield client


@pytest.fixture
async def identity_stub(
    platform: Platform,
) -> AsyncIterator[identity_pb2_grpc.IdentityServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("identity")) as channel:
        yield identity_pb2_grpc.IdentityServiceStub(channel)


async def assert_refused_everywhere(
    gateway: httpx.AsyncClient, crm: httpx.AsyncClient, token: str
) -> None:
    """The token is refused on a write through the gateway and sent straight to CRM."""
    assert_revoked(await refused_within(lambda: create_client(gateway, token)))
    assert_revoked(await refused_within(lambda: create_client(crm, token)))
    assert_revoked(
        await refused_within(lambda: crm.get("/v1/clients/export", headers=bearer(token)))
    )


async def assert_works(gateway: httpx.AsyncClient, crm: httpx.AsyncClient, token: str) -> None:
    for client in (gateway, crm):
        response = await create_client(client, token)
        assert response.status_code == 201, response.text


async def login(gateway: httpx.AsyncClient, who: AgencySession, slug: str | None = None) -> Any:
    response = await gateway.post(
        "/v1/auth/login",
        json={"email": who.email, "password": PASSWORD, "agency_slug": slug or who.slug},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def in_agency(gateway: httpx.AsyncClient, who: AgencySession, agency: AgencySession) -> str:
    """An access token of `who` in `agency` (a session of its own there)."""
    return str((await login(gateway, who, agency.slug))["access_token"])


class TestSessions:
    async def test_after_logout_the_sessions_access_token_is_refused_but_another_session_works(
        self, gateway: httpx.AsyncClient, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        laptop = str((await login(gateway, agency))["access_token"])
        await assert_works(gateway, crm, agency.access_token)

        response = await gateway.post("/v1/auth/logout", headers=agency.headers)

        assert response.status_code == 204, response.text
        await assert_refused_everywhere(gateway, crm, agency.access_token)
        await assert_works(gateway, crm, laptop)

    async def test_revoke_all_refuses_the_other_sessions_tokens_and_keeps_the_callers(
        self, gateway: httpx.AsyncClient, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        phone = str((await login(gateway, agency))["access_token"])
        tablet = str((await login(gateway, agency))["access_token"])

        response = await gateway.post("/v1/sessions/revoke-all", headers=agency.headers)

        assert response.status_code == 204, response.text
        await assert_refused_everywhere(gateway, crm, phone)
        await assert_refused_everywhere(gateway, crm, tablet)
        await assert_works(gateway, crm, agency.access_token)

    async def test_revoke_all_including_the_current_one_refuses_the_callers_token_too(
        self, gateway: httpx.AsyncClient, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
            "/v1/sessions/revoke-all",
            params={"include_current": "true"},
            headers=agency.headers,
        )

        assert response.status_code == 204, response.text
        await assert_refused_everywhere(gateway, crm, agency.access_token)
        await assert_works(gateway, crm, str((await login(gateway, agency))["access_token"]))

    async def test_a_reused_refresh_token_ends_the_access_tokens_of_its_session(
        self, gateway: httpx.AsyncClient, crm: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        other_session = str((await login(gateway, agency))["access_token"])
        rotated = await refreshed(gateway, agency)
        await assert_works(gateway, crm, rotated.access_token)

        # The thief presents the spent refresh token: the whole session ends.
        reuse = await gateway.post("/v1/auth/refresh", json={"refresh_token": agency.refresh_token})

        assert_problem(reuse, 401)
        await assert_refused_everywhere(gateway, crm, rotated.access_token)
        await assert_refused_everywhere(gateway, crm, agency.access_token)
        await assert_works(gateway, crm, other_session)


class TestMembershipChanges:
    async def test_a_suspended_member_is_refused_here_but_keeps_working_in_their_other_agency(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        crm: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "manager")
        await add_membership(platform, other_agency, member.user_id, "manager")
        elsewhere = await in_agency(gateway, member, other_agency)
        await assert_works(gateway, crm, member.access_token)

        response = await gateway.post(
            f"/v1/members/{member.user_id}/suspend", headers=agency.headers
        )

        assert response.status_code == 200, response.text
        await assert_refused_everywhere(gateway, crm, member.access_token)
        await assert_works(gateway, crm, elsewhere)

    async def test_a_removed_member_cannot_write_or_export_but_keeps_their_other_agency(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        crm: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        member = await add_member(platform, gateway, agency, "manager")
        await add_membership(platform, other_agency, member.user_id, "manager")
        elsewhere = await in_agency(gateway, member, other_agency)
        colleague = await add_member(platform, gateway, agency, "manager")

        response = await gateway.delete(f"/v1/members/{member.user_id}", headers=agency.headers)

        assert response.status_code == 204, response.text
        await assert_refused_everywhere(gateway, crm, member.access_token)
        exported = await gateway.get("/v1/clients/export", headers=member.headers)
        assert_revoked(exported)
        await assert_works(gateway, crm, elsewhere)
        await assert_works(gateway, crm, colleague.access_token)

    async def test_a_demoted_members_old_token_is_refused_and_the_fresh_one_carries_the_new_role(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        crm: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        admin = await add_member(platform, gateway, agency, "admin")

        response = await gateway.patch(
            f"/v1/members/{admin.user_id}", json={"role": "member"}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        await assert_refused_everywhere(gateway, crm, admin.access_token)
        # Refreshed right away (the same second as the change): issued after it, so it works.
        demoted = await refreshed(gateway, admin)
        assert unverified_jwt(demoted.access_token)[1]["role"] == "member"
        listed = await gateway.get("/v1/clients", headers=demoted.headers)
        assert listed.status_code == 200, listed.text
        assert_problem(await gateway.get("/v1/api-keys", headers=demoted.headers), 403)

    async def test_an_override_taking_a_permission_away_refuses_the_old_token(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        crm: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")

        response = await gateway.put(
            f"/v1/members/{manager.user_id}/permissions",
            json={"granted": [], "revoked": ["clients.write"]},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        await assert_refused_everywhere(gateway, crm, manager.access_token)
        narrowed = await refreshed(gateway, manager)
        assert_problem(await create_client(gateway, narrowed.access_token), 403)
        assert (await gateway.get("/v1/clients", headers=narrowed.headers)).status_code == 200

    async def test_a_role_tuned_to_fewer_permissions_refuses_its_members_old_tokens(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        crm: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        admin = await add_member(platform, gateway, agency, "admin")
        roles = (await gateway.get("/v1/roles", headers=agency.headers)).json()["items"]
        managers = next(r for r in roles if r["role"] == "manager")["permissions"]

        response = await gateway.put(
            "/v1/roles/manager",
            json={"permissions": [p for p in managers if p != "clients.write"]},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        await assert_refused_everywhere(gateway, crm, manager.access_token)
        assert_problem(
            await create_client(gateway, (await refreshed(gateway, manager)).access_token), 403
        )
        await assert_works(gateway, crm, admin.access_token)

    async def test_a_revoked_token_is_refused_by_a_services_grpc_server_too(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        identity_stub: identity_pb2_grpc.IdentityServiceStub,
    ) -> None:
        member = await add_member(platform, gateway, agency, "manager")
        request = identity_pb2.GetMemberRequest(user_id=str(member.user_id))
        metadata = [("authorization", f"Bearer {member.access_token}")]
        assert (await identity_stub.GetMember(request, metadata=metadata)).user_id

        response = await gateway.delete(f"/v1/members/{member.user_id}", headers=agency.headers)

        assert response.status_code == 204, response.text
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await identity_stub.GetMember(request, metadata=metadata)
        assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED

    async def test_a_password_reset_refuses_the_users_tokens_in_every_agency(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        crm: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        await add_membership(platform, other_agency, agency.user_id, "manager")
        elsewhere = await in_agency(gateway, agency, other_agency)
        bystander = await add_member(platform, gateway, agency, "manager")
        assert (
            await gateway.post("/v1/auth/password-reset", json={"email": agency.email})
        ).status_code == 202
        token = await reset_token(platform, agency)

        response = await gateway.post(
            "/v1/auth/password-reset/confirm",
            json={"token": token, "new_password": "a brand new passphrase"},
        )

        assert response.status_code == 204, response.text
        await assert_refused_everywhere(gateway, crm, agency.access_token)
        await assert_refused_everywhere(gateway, crm, elsewhere)
        await assert_works(gateway, crm, bystander.access_token)


async def reset_token(platform: Platform, who: AgencySession) -> str:
    """The password reset token identity published for `who` (the email's content)."""
    topic = f"{platform.topic_prefix}identity.events"

    def mine(records: list[Any]) -> list[dict[str, Any]]:
        return [
            e
            for e in events_where(records, type="identity.password_reset.requested")
            if e["data"]["user_id"] == str(who.user_id)
        ]

    records = await read_topic(platform.infra.kafka_bootstrap, topic, lambda rs: bool(mine(rs)))
    token: str = mine(records)[-1]["data"]["token"]
    return token


class TestApiKeys:
    async def test_a_revoked_key_and_the_token_minted_for_it_stop_at_once(
        self,
        gateway: httpx.AsyncClient,
        crm: httpx.AsyncClient,
        agency: AgencySession,
        identity_stub: identity_pb2_grpc.IdentityServiceStub,
    ) -> None:
        keys = []
        for name in ("leaked", "kept"):
            response = await gateway.post(
                "/v1/api-keys", json={"name": name, "role": "manager"}, headers=agency.headers
            )
            assert response.status_code == 201, response.text
            keys.append(response.json())
        leaked, kept = keys
        # The gateway has the leaked key's token cached, and the attacker holds a minted token.
        assert (await create_client(gateway, leaked["key"])).status_code == 201
        minted = await identity_stub.ResolveApiKey(
            identity_pb2.ResolveApiKeyRequest(api_key=leaked["key"])
        )
        assert (await create_client(crm, minted.access_token)).status_code == 201

        response = await gateway.delete(f"/v1/api-keys/{leaked['id']}", headers=agency.headers)

        assert response.status_code == 204, response.text
        assert_revoked(await refused_within(lambda: create_client(gateway, leaked["key"])))
        assert_revoked(await refused_within(lambda: create_client(crm, minted.access_token)))
        assert (await create_client(gateway, kept["key"])).status_code == 201
