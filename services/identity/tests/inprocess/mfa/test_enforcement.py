"""Per-agency enforcement (`GET/PUT /v1/agency/security/two-factor`, `security.manage`): a
member whose role must have two-factor and who has none gets tokens good only for enrolling
(claim `restricted: "2fa_enrollment"`), refused everywhere but enroll, confirm, `GET /v1/me`
and logout, until they enroll. Another agency's policy does not apply."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pyotp
import pytest

from agencyos.testing.factories import PASSWORD, AgencySession, invite
from agencyos.testing.http import assert_problem, unverified_jwt
from agencyos.testing.inprocess import InProcess
from agencyos.testing.keys import TestKeys

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
AddMembership = Callable[[AgencySession, uuid.UUID, str], Awaitable[None]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]
POLICY = "/v1/agency/security/two-factor"
RESTRICTED = "two-factor-enrollment-required"


async def require_for(
    identity: httpx.AsyncClient, owner: AgencySession, required_for: Any
) -> dict[str, Any]:
    response = await identity.put(
        POLICY, json={"required_for": required_for}, headers=owner.headers
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def login(identity: httpx.AsyncClient, who: AgencySession, **extra: Any) -> dict[str, Any]:
    response = await identity.post(
        "/v1/auth/login", json={"email": who.email, "password": PASSWORD, **extra}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def restriction(access_token: str) -> str | None:
    value: str | None = unverified_jwt(access_token)[1].get("restricted")
    return value


class TestPolicy:
    async def test_is_nobody_until_an_owner_changes_it(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await identity.get(POLICY, headers=agency.headers)

        assert response.status_code == 200, response.text
        assert response.json() == {"required_for": "nobody"}

    @pytest.mark.parametrize(
        "required_for",
        ["everyone", ["admin", "member"], "nobody"],
        ids=["everyone", "roles", "nobody"],
    )
    async def test_an_owner_sets_it_and_reads_it_back(
        self, identity: httpx.AsyncClient, agency: AgencySession, required_for: Any
    ) -> None:
        assert (await require_for(identity, agency, required_for)) == {"required_for": required_for}
        response = await identity.get(POLICY, headers=agency.headers)
        assert response.json() == {"required_for": required_for}

    @pytest.mark.parametrize(
        "required_for",
        ["some", ["boss"], [], ["admin", "admin"], None, 3],
        ids=["unknown-word", "unknown-role", "no-roles", "twice", "null", "number"],
    )
    async def test_a_value_it_does_not_know_is_422(
        self, identity: httpx.AsyncClient, agency: AgencySession, required_for: Any
    ) -> None:
        response = await identity.put(
            POLICY, json={"required_for": required_for}, headers=agency.headers
        )

        assert_problem(response, 422, "invalid-input")

    @pytest.mark.parametrize("role", ["admin", "member"])
    async def test_a_role_without_security_manage_gets_403(
        self, identity: httpx.AsyncClient, agency: AgencySession, add_member: AddMember, role: str
    ) -> None:
        person = await add_member(agency, role)

        assert_problem(await identity.get(POLICY, headers=person.headers), 403)
        response = await identity.put(
            POLICY, json={"required_for": "nobody"}, headers=person.headers
        )
        assert_problem(response, 403)

    async def test_a_change_is_recorded_in_the_audit_log(
        self, identity: httpx.AsyncClient, agency: AgencySession, outbox: Outbox
    ) -> None:
        await require_for(identity, agency, ["member"])

        records = [
            r["data"]
            for r in await outbox("audit.recorded", agency.agency_id)
            if r["data"]["action"] == "agency.two_factor_policy_changed"
        ]
        assert len(records) == 1
        assert records[0]["changes"]["required_for"] == {"before": "nobody", "after": ["member"]}

    async def test_each_agency_has_its_own(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        await require_for(identity, agency, "everyone")

        response = await identity.get(POLICY, headers=other_agency.headers)

        assert response.json() == {"required_for": "nobody"}


class TestRestrictedTokens:
    async def test_a_member_of_a_required_role_without_two_factor_gets_a_restricted_token(
        self, identity: httpx.AsyncClient, agency: AgencySession, add_member: AddMember
    ) -> None:
        member = await add_member(agency, "member")
        await require_for(identity, agency, ["member"])

        body = await login(identity, member)

        assert restriction(body["access_token"]) == "2fa_enrollment"
        refused = await identity.get("/v1/members", headers=bearer(body["access_token"]))
        problem = assert_problem(refused, 403, RESTRICTED)
        assert problem["enroll"] == "/v1/auth/2fa/enroll"
        me = await identity.get("/v1/me", headers=bearer(body["access_token"]))
        assert me.status_code == 200, me.text
        assert me.json()["restricted"] == "2fa_enrollment"

    async def test_a_role_the_policy_does_not_name_is_not_restricted(
        self, identity: httpx.AsyncClient, agency: AgencySession, add_member: AddMember
    ) -> None:
        member = await add_member(agency, "member")
        await require_for(identity, agency, ["admin"])

        body = await login(identity, member)

        assert restriction(body["access_token"]) is None

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/v1/auth/2fa/disable"),
            ("POST", "/v1/auth/2fa/backup-codes"),
            ("GET", "/v1/auth/2fa"),
            ("POST", "/v1/auth/switch"),
            ("GET", "/v1/sessions"),
            ("POST", "/v1/api-keys"),
            ("PUT", POLICY),
        ],
    )
    async def test_is_refused_on_every_other_route(
        self, identity: httpx.AsyncClient, agency: AgencySession, method: str, path: str
    ) -> None:
        await require_for(identity, agency, "everyone")
        body = await login(identity, agency)

        response = await identity.request(
            method, path, json={"required_for": "nobody"}, headers=bearer(body["access_token"])
        )

        assert_problem(response, 403, RESTRICTED)

    async def test_enrolling_lifts_it_with_a_fresh_pair_and_ends_the_restricted_session(
        self, identity: httpx.AsyncClient, agency: AgencySession, add_member: AddMember
    ) -> None:
        member = await add_member(agency, "member")
        await require_for(identity, agency, "everyone")
        restricted = await login(identity, member)
        member = AgencySession(
            **{
                **member.__dict__,
                "access_token": restricted["access_token"],
                "refresh_token": restricted["refresh_token"],
            }
        )

        enrolled = await _enroll(identity, member)

        assert restriction(enrolled["access_token"]) is None
        assert unverified_jwt(enrolled["access_token"])[1]["amr"] == ["pwd", "otp"]
        members = await identity.get("/v1/members", headers=bearer(enrolled["access_token"]))
        assert members.status_code == 200, members.text
        assert_problem(await identity.get("/v1/me", headers=member.headers), 401)
        old_refresh = await identity.post(
            "/v1/auth/refresh", json={"refresh_token": member.refresh_token}
        )
        assert_problem(old_refresh, 401)

    async def test_a_refresh_stays_restricted_until_the_member_enrolls(
        self, identity: httpx.AsyncClient, agency: AgencySession, add_member: AddMember
    ) -> None:
        member = await add_member(agency, "member")
        await require_for(identity, agency, "everyone")
        body = await login(identity, member)

        refreshed = await identity.post(
            "/v1/auth/refresh", json={"refresh_token": body["refresh_token"]}
        )

        assert refreshed.status_code == 200, refreshed.text
        assert restriction(refreshed.json()["access_token"]) == "2fa_enrollment"

    async def test_an_existing_session_is_restricted_at_its_next_refresh(
        self, identity: httpx.AsyncClient, agency: AgencySession, add_member: AddMember
    ) -> None:
        member = await add_member(agency, "member")
        await require_for(identity, agency, "everyone")

        refreshed = await identity.post(
            "/v1/auth/refresh", json={"refresh_token": member.refresh_token}
        )

        assert restriction(refreshed.json()["access_token"]) == "2fa_enrollment"

    async def test_logout_works_with_it(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await require_for(identity, agency, "everyone")
        body = await login(identity, agency)

        response = await identity.post("/v1/auth/logout", headers=bearer(body["access_token"]))

        assert response.status_code == 204, response.text


class TestOtherAgencies:
    async def test_another_agencys_policy_does_not_apply(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        add_membership: AddMembership,
    ) -> None:
        await add_membership(other_agency, agency.user_id, "member")
        await require_for(identity, other_agency, "everyone")

        home = await login(identity, agency, agency_slug=agency.slug)
        there = await login(identity, agency, agency_slug=other_agency.slug)

        assert restriction(home["access_token"]) is None
        assert restriction(there["access_token"]) == "2fa_enrollment"

    async def test_switching_into_an_agency_that_requires_it_gives_a_restricted_token(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        add_membership: AddMembership,
    ) -> None:
        await add_membership(other_agency, agency.user_id, "member")
        await require_for(identity, other_agency, ["member"])
        body = {"agency_id": str(other_agency.agency_id)}

        response = await identity.post("/v1/auth/switch", json=body, headers=agency.headers)

        assert response.status_code == 200, response.text
        assert restriction(response.json()["access_token"]) == "2fa_enrollment"

    async def test_a_member_with_two_factor_on_is_never_restricted(
        self, identity: httpx.AsyncClient, agency: AgencySession, two_factor: Any, first_step: Any
    ) -> None:
        enrolled = await two_factor(agency)
        await require_for(
            identity,
            AgencySession(**{**agency.__dict__, "access_token": enrolled.access_token}),
            "everyone",
        )

        response = await identity.post(
            "/v1/auth/2fa/verify",
            json={"mfa_token": await first_step(agency), "code": await enrolled.app.next_code()},
        )

        assert restriction(response.json()["access_token"]) is None


class TestInvitations:
    async def test_an_account_with_two_factor_on_cannot_accept_with_its_password_alone(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        two_factor: Any,
    ) -> None:
        await two_factor(other_agency)
        invitation = await invite(identity, agency, other_agency.email, "member")

        response = await identity.post(
            f"/v1/invitations/{invitation['token']}/accept", json={"password": PASSWORD}
        )

        assert_problem(response, 403, "permission-denied")
        assert "access_token" not in response.text


class TestOtherServices:
    async def test_crm_refuses_a_restricted_token_with_the_same_403(
        self, in_process: InProcess, test_keys: TestKeys
    ) -> None:
        crm = await in_process.service("crm")
        agency = in_process.agency()
        token = test_keys.mint(
            sub=str(agency.owner.user_id),
            tid=str(agency.id),
            role="owner",
            restricted="2fa_enrollment",
        )

        response = await crm.http.get("/v1/clients", headers=bearer(token))

        assert_problem(response, 403, RESTRICTED)
        allowed = await crm.http.get("/v1/clients", headers=agency.owner.headers)
        assert allowed.status_code == 200, allowed.text


async def _enroll(identity: httpx.AsyncClient, who: AgencySession) -> dict[str, Any]:
    enrolled = await identity.post("/v1/auth/2fa/enroll", headers=who.headers)
    assert enrolled.status_code == 200, enrolled.text
    code = pyotp.TOTP(enrolled.json()["secret"]).now()
    confirmed = await identity.post(
        "/v1/auth/2fa/confirm", json={"code": code}, headers=who.headers
    )
    assert confirmed.status_code == 200, confirmed.text
    body: dict[str, Any] = confirmed.json()
    return body
