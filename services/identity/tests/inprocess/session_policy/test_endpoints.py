"""The agency's session policy (`GET/PUT /v1/agency/security/sessions`, owners only): idle
timeout and absolute lifetime end sessions at their refresh (timestamps moved in the
database rather than slept), the IP allowlist refuses sign-ins and refreshes from outside
and is carried in tokens (`ipal`); a changed allowlist refuses every token issued before;
changes are audited."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.common.actor_context import CLIENT_IP_HEADER
from agencyos.testing.factories import PASSWORD, AgencySession, refreshed
from agencyos.testing.http import assert_invalid_fields, assert_problem, unverified_jwt
from agencyos.testing.inprocess import ServiceInProcess
from agencyos.testing.sql import fetch_rows

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]

PATH = "/v1/agency/security/sessions"
OFFICE = "203.0.113.0/24"
AT_OFFICE = "203.0.113.7"
ELSEWHERE = "198.51.100.20"


def at(ip: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers of a request from `ip` as the gateway says it (identity believes the header
    from the test's 127.0.0.1, a trusted peer)."""
    return {**(headers or {}), CLIENT_IP_HEADER: ip}


def policy(**fields: Any) -> dict[str, Any]:
    return {
        "idle_timeout_minutes": None,
        "absolute_lifetime_hours": None,
        "ip_allowlist": [],
        **fields,
    }


async def put_policy(
    identity: httpx.AsyncClient, who: AgencySession, body: dict[str, Any], ip: str = AT_OFFICE
) -> httpx.Response:
    return await identity.put(PATH, json=body, headers=at(ip, who.headers))


async def login(identity: httpx.AsyncClient, who: AgencySession, ip: str) -> httpx.Response:
    return await identity.post(
        "/v1/auth/login",
        json={"email": who.email, "password": PASSWORD, "agency_slug": who.slug},
        headers=at(ip),
    )


async def refresh(identity: httpx.AsyncClient, token: str, ip: str = AT_OFFICE) -> httpx.Response:
    return await identity.post("/v1/auth/refresh", json={"refresh_token": token}, headers=at(ip))


async def sql(service: ServiceInProcess, tenant: uuid.UUID, query: str, *args: Any) -> None:
    await fetch_rows(service.infra, service.database, query, *args, tenant_id=tenant, owner=True)


class TestReadAndWrite:
    async def test_an_agency_has_no_policy_until_one_is_set(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await identity.get(PATH, headers=agency.headers)

        assert response.status_code == 200, response.text
        assert response.json() == policy()

    async def test_the_owner_sets_the_whole_policy_and_reads_it_back(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        body = policy(
            idle_timeout_minutes=30,
            absolute_lifetime_hours=12,
            ip_allowlist=[OFFICE, "2001:db8::/48"],
        )

        response = await put_policy(identity, agency, body)

        assert response.status_code == 200, response.text
        expected = policy(
            idle_timeout_minutes=30,
            absolute_lifetime_hours=12,
            ip_allowlist=sorted([OFFICE, "2001:db8::/48"]),
        )
        assert response.json() == expected
        # a new allowlist ends the tokens issued before (TestIpAllowlist): read with a fresh one
        fresh = (await refresh(identity, agency.refresh_token)).json()["access_token"]
        read = await identity.get(PATH, headers=at(AT_OFFICE, {"Authorization": f"Bearer {fresh}"}))
        assert read.json() == expected

    @pytest.mark.parametrize("role", ["admin", "manager", "member"])
    async def test_a_role_without_security_manage_gets_403(
        self, identity: httpx.AsyncClient, agency: AgencySession, add_member: AddMember, role: str
    ) -> None:
        who = await add_member(agency, role)

        assert_problem(await identity.get(PATH, headers=who.headers), 403, "permission-denied")
        put = await put_policy(identity, who, policy(idle_timeout_minutes=30))
        assert_problem(put, 403, "permission-denied")

    async def test_another_agency_keeps_its_own_policy(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        saved = await put_policy(identity, agency, policy(ip_allowlist=[OFFICE]))
        assert saved.status_code == 200

        theirs = await identity.get(PATH, headers=other_agency.headers)
        outside = await login(identity, other_agency, ELSEWHERE)

        assert theirs.json() == policy()
        assert outside.status_code == 200

    @pytest.mark.parametrize(
        "entry",
        ["not-a-network", "203.0.113.7/24", "10.0.0.0/33", "", "203.0.113.0/24\x00"],
        ids=["text", "host-bits", "prefix", "empty", "nul"],
    )
    async def test_an_entry_that_is_not_a_cidr_network_is_422(
        self, identity: httpx.AsyncClient, agency: AgencySession, entry: str
    ) -> None:
        response = await put_policy(identity, agency, policy(ip_allowlist=[entry, OFFICE]))

        assert_invalid_fields(response, "ip_allowlist.0")

    @pytest.mark.parametrize(
        ("field", "value"),
        [("idle_timeout_minutes", 0), ("idle_timeout_minutes", -5), ("absolute_lifetime_hours", 0)],
        ids=["idle-zero", "idle-negative", "lifetime-zero"],
    )
    async def test_a_limit_out_of_range_is_422(
        self, identity: httpx.AsyncClient, agency: AgencySession, field: str, value: int
    ) -> None:
        response = await put_policy(identity, agency, policy(**{field: value}))

        assert_invalid_fields(response, field)

    async def test_a_list_that_leaves_out_the_callers_own_address_is_refused(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await put_policy(identity, agency, policy(ip_allowlist=[OFFICE]), ip=ELSEWHERE)

        body = assert_invalid_fields(response, "ip_allowlist")
        assert "lock you out" in body["detail"]
        assert (await identity.get(PATH, headers=agency.headers)).json() == policy()

    async def test_a_change_is_audited_with_before_and_after(
        self, identity: httpx.AsyncClient, agency: AgencySession, outbox: Outbox
    ) -> None:
        await put_policy(identity, agency, policy(idle_timeout_minutes=30))
        await put_policy(identity, agency, policy(idle_timeout_minutes=60))
        await put_policy(identity, agency, policy(idle_timeout_minutes=60))  # no change

        records = [
            e["data"]
            for e in await outbox("audit.recorded", agency.agency_id)
            if e["data"]["action"] == "agency.session_policy_changed"
        ]
        assert [r["changes"] for r in records] == [
            {"idle_timeout_minutes": {"before": None, "after": 30}},
            {"idle_timeout_minutes": {"before": 30, "after": 60}},
        ]
        assert {r["actor_id"] for r in records} == {str(agency.user_id)}


class TestIdleAndAbsoluteLifetime:
    async def test_a_session_unused_longer_than_the_idle_timeout_is_refused_and_ended(
        self, identity: httpx.AsyncClient, agency: AgencySession, identity_service: ServiceInProcess
    ) -> None:
        await put_policy(identity, agency, policy(idle_timeout_minutes=30))
        await sql(
            identity_service,
            agency.agency_id,
            "UPDATE refresh_tokens SET created_at = created_at - interval '31 minutes'",
        )

        response = await refresh(identity, agency.refresh_token)

        assert_problem(response, 401, "unauthenticated")
        sessions = await identity.get("/v1/sessions", headers=agency.headers)
        assert sessions.status_code == 401  # the session's access token ended with it

    async def test_a_session_used_within_the_idle_timeout_lives_on(
        self, identity: httpx.AsyncClient, agency: AgencySession, identity_service: ServiceInProcess
    ) -> None:
        await put_policy(identity, agency, policy(idle_timeout_minutes=30))
        await sql(
            identity_service,
            agency.agency_id,
            "UPDATE refresh_tokens SET created_at = created_at - interval '29 minutes'",
        )

        assert (await refresh(identity, agency.refresh_token)).status_code == 200

    async def test_a_session_older_than_the_absolute_lifetime_is_refused_however_used(
        self, identity: httpx.AsyncClient, agency: AgencySession, identity_service: ServiceInProcess
    ) -> None:
        await put_policy(identity, agency, policy(absolute_lifetime_hours=8))
        # the session began 9 hours ago; its live token was issued a moment ago
        current = await refreshed(identity, agency)
        await sql(
            identity_service,
            agency.agency_id,
            "UPDATE refresh_tokens SET created_at = created_at - interval '9 hours' "
            "WHERE token_hash <> encode(sha256($1::bytea), 'hex')",
            current.refresh_token.encode(),
        )

        response = await refresh(identity, current.refresh_token)

        assert_problem(response, 401, "unauthenticated")

    async def test_without_limits_an_old_idle_session_still_refreshes(
        self, identity: httpx.AsyncClient, agency: AgencySession, identity_service: ServiceInProcess
    ) -> None:
        await sql(
            identity_service,
            agency.agency_id,
            "UPDATE refresh_tokens SET created_at = created_at - interval '20 days'",
        )

        assert (await refresh(identity, agency.refresh_token)).status_code == 200


class TestIpAllowlist:
    async def test_a_sign_in_from_outside_the_allowlist_is_403(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await put_policy(identity, agency, policy(ip_allowlist=[OFFICE]))

        outside = await login(identity, agency, ELSEWHERE)
        inside = await login(identity, agency, AT_OFFICE)

        body = assert_problem(outside, 403, "address-not-allowed")
        assert "access_token" not in outside.text
        assert "allowlist" in body["detail"]
        assert inside.status_code == 200, inside.text
        assert unverified_jwt(inside.json()["access_token"])[1]["ipal"] == [OFFICE]

    async def test_a_refresh_from_outside_is_403_and_spends_nothing(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await put_policy(identity, agency, policy(ip_allowlist=[OFFICE]))

        outside = await refresh(identity, agency.refresh_token, ip=ELSEWHERE)
        inside = await refresh(identity, agency.refresh_token, ip=AT_OFFICE)

        assert_problem(outside, 403, "address-not-allowed")
        assert inside.status_code == 200, inside.text
        assert unverified_jwt(inside.json()["access_token"])[1]["ipal"] == [OFFICE]

    async def test_a_client_ip_header_from_an_untrusted_peer_is_not_believed(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        identity_service: ServiceInProcess,
    ) -> None:
        await put_policy(identity, agency, policy(ip_allowlist=[OFFICE]))
        # someone reaching identity directly, naming an address inside the list
        transport = httpx.ASGITransport(app=identity_service.app, client=(ELSEWHERE, 40000))
        async with httpx.AsyncClient(transport=transport, base_url="http://identity") as direct:
            response = await login(direct, agency, AT_OFFICE)

        assert_problem(response, 403, "address-not-allowed")

    async def test_a_changed_allowlist_refuses_the_agencys_tokens_issued_before(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        assert (await identity.get("/v1/me", headers=agency.headers)).status_code == 200

        await put_policy(identity, agency, policy(ip_allowlist=[OFFICE]))

        stale = await identity.get("/v1/me", headers=agency.headers)
        assert_problem(stale, 401, "unauthenticated")
        # another agency's tokens are untouched; a refresh carries the new list
        assert (await identity.get("/v1/me", headers=other_agency.headers)).status_code == 200
        fresh = await refresh(identity, agency.refresh_token)
        token = fresh.json()["access_token"]
        assert unverified_jwt(token)[1]["ipal"] == [OFFICE]
        me = await identity.get("/v1/me", headers={"Authorization": f"Bearer {token}"})
        assert me.status_code == 200

    async def test_changing_only_the_timeouts_keeps_the_tokens(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await put_policy(identity, agency, policy(idle_timeout_minutes=60))

        assert (await identity.get("/v1/me", headers=agency.headers)).status_code == 200
