"""Invitations: who may invite with which role, accepting as a new or existing person, the
emailed link (a GET that shows the invitation and accepts nothing), every way an invitation
token can be misused, and the events identity writes to its outbox."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import PASSWORD, AgencySession, invite, signup_agency
from agencyos.testing.http import assert_invalid_fields, assert_problem, unverified_jwt
from agencyos.testing.inprocess import ServiceInProcess
from agencyos.testing.sql import fetch_rows

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]


def new_email() -> str:
    return f"invitee-{uuid.uuid4().hex[:10]}@example.com"


async def accept(
    identity: httpx.AsyncClient,
    token: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await identity.post(
        f"/v1/invitations/{token}/accept",
        json={"name": "Grace Hopper", "password": PASSWORD} if body is None else body,
        headers=headers or {},
    )


async def set_expiry(service: ServiceInProcess, agency: AgencySession, invitation_id: str) -> None:
    """Backdate an invitation's expiry in identity's database (time cannot be waited out)."""
    await fetch_rows(
        service.infra,
        service.database,
        "UPDATE invitations SET expires_at = $1 WHERE id = $2 RETURNING id",
        datetime.now(UTC) - timedelta(minutes=1),
        uuid.UUID(invitation_id),
        tenant_id=agency.agency_id,
        owner=True,
    )


async def me(identity: httpx.AsyncClient, access_token: str) -> dict[str, Any]:
    response = await identity.get("/v1/me", headers={"Authorization": f"Bearer {access_token}"})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestInviting:
    async def test_the_owner_invites_and_gets_a_token_once_that_the_list_never_shows(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        email = new_email()

        created = await invite(identity, agency, email.upper(), "member")

        assert created["token"].startswith("inv_")
        assert created["email"] == email
        assert (created["role"], created["status"], created["client_id"]) == (
            "member",
            "pending",
            None,
        )
        expires = datetime.fromisoformat(created["expires_at"])
        assert timedelta(days=6) < expires - datetime.now(UTC) <= timedelta(days=7)
        listed = await identity.get("/v1/invitations", headers=agency.headers)
        assert listed.status_code == 200, listed.text
        (item,) = [i for i in listed.json()["items"] if i["id"] == created["id"]]
        assert item["status"] == "pending"
        assert "token" not in item
        assert created["token"] not in listed.text

    @pytest.mark.parametrize(
        ("inviter_role", "role"),
        [("manager", "manager"), ("manager", "admin"), ("admin", "owner")],
    )
    async def test_nobody_invites_above_what_they_may_give(
        self,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        inviter_role: str,
        role: str,
    ) -> None:
        inviter = await add_member(agency, inviter_role)

        response = await identity.post(
            "/v1/invitations", json={"email": new_email(), "role": role}, headers=inviter.headers
        )

        assert_problem(response, 403, "permission-denied")

    async def test_a_member_cannot_invite(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(agency, "member")

        response = await identity.post(
            "/v1/invitations", json={"email": new_email(), "role": "member"}, headers=member.headers
        )

        assert_problem(response, 403, "permission-denied")

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"email": "not-an-email", "role": "member"}, "email"),
            ({"email": "a@example.com", "role": "superuser"}, "role"),
            ({"email": "a@example.com", "role": "client"}, "client_id"),
            (
                {"email": "a@example.com", "role": "member", "client_id": str(uuid.uuid4())},
                "client_id",
            ),
        ],
    )
    async def test_bad_input_is_422_naming_the_field(
        self, identity: httpx.AsyncClient, agency: AgencySession, body: dict[str, Any], field: str
    ) -> None:
        response = await identity.post("/v1/invitations", json=body, headers=agency.headers)

        assert_invalid_fields(response, field)

    async def test_inviting_someone_who_is_already_a_member_is_409(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(agency, "member")

        response = await identity.post(
            "/v1/invitations", json={"email": member.email, "role": "admin"}, headers=agency.headers
        )

        assert_problem(response, 409)

    async def test_a_new_invitation_to_the_same_address_replaces_the_open_one(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        email = new_email()
        first = await invite(identity, agency, email, "member")
        second = await invite(identity, agency, email, "manager")

        assert_problem(await accept(identity, first["token"]), 410, "invitation-revoked")
        accepted = await accept(identity, second["token"])
        assert accepted.status_code == 201, accepted.text
        assert unverified_jwt(accepted.json()["access_token"])[1]["role"] == "manager"

    async def test_the_invitation_is_written_with_its_token_for_the_email(
        self, identity: httpx.AsyncClient, agency: AgencySession, outbox: Outbox
    ) -> None:
        email = new_email()
        created = await invite(identity, agency, email, "member")

        mine = [
            e
            for e in await outbox("identity.invitation.created", agency.agency_id)
            if e["data"]["invitation_id"] == created["id"]
        ]

        (event,) = mine
        assert event["data"]["email"] == email
        assert event["data"]["role"] == "member"
        assert event["data"]["token"] == created["token"]
        assert event["data"]["invited_by"] == str(agency.user_id)


class TestAcceptingAsANewPerson:
    async def test_a_new_person_joins_with_the_invited_role_and_gets_tokens(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        email = new_email()
        created = await invite(identity, agency, email, "manager")

        response = await accept(identity, created["token"], {"name": "Grace", "password": PASSWORD})

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["agency"]["id"] == str(agency.agency_id)
        assert body["user"]["email"] == email
        profile = await me(identity, body["access_token"])
        assert profile["role"] == "manager"
        assert profile["user"]["name"] == "Grace"
        login = await identity.post("/v1/auth/login", json={"email": email, "password": PASSWORD})
        assert login.status_code == 200, login.text
        listed = await identity.get("/v1/invitations?status=accepted", headers=agency.headers)
        assert created["id"] in {i["id"] for i in listed.json()["items"]}

    async def test_joining_writes_member_added(
        self, identity: httpx.AsyncClient, agency: AgencySession, outbox: Outbox
    ) -> None:
        created = await invite(identity, agency, new_email(), "member")
        user_id = (await accept(identity, created["token"])).json()["user"]["id"]

        added = [
            e
            for e in await outbox("identity.member.added", agency.agency_id)
            if e["data"]["user_id"] == user_id
        ]

        (event,) = added
        assert event["data"]["role"] == "member"

    @pytest.mark.parametrize(
        ("body", "field"),
        [({"password": PASSWORD}, "name"), ({"name": "Grace", "password": "short"}, "password")],
    )
    async def test_a_new_account_needs_a_name_and_a_long_enough_password(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        body: dict[str, Any],
        field: str,
    ) -> None:
        created = await invite(identity, agency, new_email(), "member")

        assert_invalid_fields(await accept(identity, created["token"], body), field)
        # Nothing was used up: the invitation still works.
        assert (await accept(identity, created["token"])).status_code == 201


class TestAcceptingWithAnExistingAccount:
    async def test_someone_from_another_agency_joins_with_their_password(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        created = await invite(identity, agency, other_agency.email, "admin")

        response = await accept(identity, created["token"], {"password": PASSWORD})

        assert response.status_code == 201, response.text
        body = response.json()
        assert body["user"]["id"] == str(other_agency.user_id)
        profile = await me(identity, body["access_token"])
        assert profile["role"] == "admin"
        assert {m["agency"]["id"] for m in profile["memberships"]} == {
            str(agency.agency_id),
            str(other_agency.agency_id),
        }

    async def test_a_wrong_password_for_the_existing_account_is_401_and_joins_nobody(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        created = await invite(identity, agency, other_agency.email, "member")

        response = await accept(identity, created["token"], {"password": "not the password"})

        assert_problem(response, 401)
        members = await identity.get("/v1/members", headers=agency.headers)
        assert str(other_agency.user_id) not in {m["user_id"] for m in members.json()["items"]}

    async def test_the_invited_person_accepts_while_logged_in(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        created = await invite(identity, agency, other_agency.email, "member")

        response = await accept(identity, created["token"], {}, headers=other_agency.headers)

        assert response.status_code == 201, response.text
        assert response.json()["agency"]["id"] == str(agency.agency_id)

    async def test_someone_else_logged_in_cannot_take_the_invitation(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        created = await invite(identity, agency, new_email(), "admin")

        response = await accept(identity, created["token"], {}, headers=other_agency.headers)

        assert_problem(response, 403)
        assert (await accept(identity, created["token"])).status_code == 201

    async def test_a_forged_bearer_token_is_401(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await invite(identity, agency, new_email(), "member")
        forged = agency.access_token[:-4] + (
            "AAAA" if not agency.access_token.endswith("AAAA") else "BBBB"
        )

        response = await accept(
            identity, created["token"], {}, headers={"Authorization": f"Bearer {forged}"}
        )

        assert_problem(response, 401)


class TestMisusedInvitations:
    async def test_an_accepted_invitation_cannot_be_used_again(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await invite(identity, agency, new_email(), "member")
        assert (await accept(identity, created["token"])).status_code == 201

        again = await accept(identity, created["token"], {"name": "Mallory", "password": PASSWORD})

        assert_problem(again, 409, "invitation-already-accepted")

    async def test_two_simultaneous_accepts_make_exactly_one_member(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await invite(identity, agency, new_email(), "member")

        answers = await asyncio.gather(*(accept(identity, created["token"]) for _ in range(4)))

        assert sorted(a.status_code for a in answers) == [201, 409, 409, 409]

    async def test_an_expired_invitation_is_410(
        self,
        identity_service: ServiceInProcess,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        created = await invite(identity, agency, new_email(), "member")
        await set_expiry(identity_service, agency, created["id"])

        assert_problem(await accept(identity, created["token"]), 410, "invitation-expired")
        listed = await identity.get("/v1/invitations?status=expired", headers=agency.headers)
        assert created["id"] in {i["id"] for i in listed.json()["items"]}

    async def test_a_revoked_invitation_is_410(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await invite(identity, agency, new_email(), "member")

        revoked = await identity.delete(f"/v1/invitations/{created['id']}", headers=agency.headers)

        assert revoked.status_code == 204, revoked.text
        assert_problem(await accept(identity, created["token"]), 410, "invitation-revoked")
        assert_problem(
            await identity.delete(f"/v1/invitations/{created['id']}", headers=agency.headers), 410
        )

    @pytest.mark.parametrize(
        "token",
        [
            "inv_" + "A" * 43 + "." + "0" * 32,
            "not-a-token",
            "inv_" + "A" * 43,
        ],
    )
    async def test_a_made_up_token_is_404(self, identity: httpx.AsyncClient, token: str) -> None:
        assert_problem(await accept(identity, token), 404, "invitation-not-found")

    async def test_a_token_with_another_agency_spliced_in_is_404(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        created = await invite(identity, agency, new_email(), "admin")
        secret = created["token"].rsplit(".", 1)[0]

        spliced = f"{secret}.{other_agency.agency_id.hex}"

        assert_problem(await accept(identity, spliced), 404, "invitation-not-found")


async def follow(identity: httpx.AsyncClient, token: str) -> httpx.Response:
    """The emailed link, followed: a GET without credentials."""
    return await identity.get(f"/v1/invitations/{token}/accept")


class TestFollowingTheLink:
    async def test_it_shows_what_accepting_would_do(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(agency, "manager")
        email = new_email()
        created = await invite(identity, manager, email, "member")
        agency_name = (await identity.get("/v1/agency", headers=agency.headers)).json()["name"]
        inviter_name = (await me(identity, manager.access_token))["user"]["name"]

        response = await follow(identity, created["token"])

        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        assert response.json() == {
            "agency_name": agency_name,
            "email": email,
            "role": "member",
            "inviter_name": inviter_name,
            "expires_at": response.json()["expires_at"],
        }
        expires_at = datetime.fromisoformat(response.json()["expires_at"])
        assert expires_at == datetime.fromisoformat(created["expires_at"])

    async def test_following_it_accepts_nothing_and_the_invitation_stays_open(
        self, identity: httpx.AsyncClient, agency: AgencySession, outbox: Outbox
    ) -> None:
        created = await invite(identity, agency, new_email(), "member")

        for _ in range(2):
            assert (await follow(identity, created["token"])).status_code == 200

        pending = await identity.get("/v1/invitations?status=pending", headers=agency.headers)
        assert created["id"] in {i["id"] for i in pending.json()["items"]}
        added = await outbox("identity.member.added", agency.agency_id)
        assert [e["data"]["user_id"] for e in added] == [str(agency.user_id)]  # the owner only
        assert await outbox("identity.invitation.accepted", agency.agency_id) == []
        assert (await accept(identity, created["token"])).status_code == 201

    async def test_an_accepted_invitation_is_409_as_accepting_again_would_be(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await invite(identity, agency, new_email(), "member")
        assert (await accept(identity, created["token"])).status_code == 201

        assert_problem(await follow(identity, created["token"]), 409, "invitation-already-accepted")

    async def test_an_expired_invitation_is_410(
        self,
        identity_service: ServiceInProcess,
        identity: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        created = await invite(identity, agency, new_email(), "member")
        await set_expiry(identity_service, agency, created["id"])

        assert_problem(await follow(identity, created["token"]), 410, "invitation-expired")

    async def test_a_revoked_invitation_is_410(
        self, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        created = await invite(identity, agency, new_email(), "member")
        await identity.delete(f"/v1/invitations/{created['id']}", headers=agency.headers)

        assert_problem(await follow(identity, created["token"]), 410, "invitation-revoked")

    @pytest.mark.parametrize(
        "token", ["inv_" + "A" * 43 + "." + "0" * 32, "not-a-token", "inv_" + "A" * 43]
    )
    async def test_a_made_up_token_is_404(self, identity: httpx.AsyncClient, token: str) -> None:
        assert_problem(await follow(identity, token), 404, "invitation-not-found")

    async def test_a_token_with_another_agency_spliced_in_is_404(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        created = await invite(identity, agency, new_email(), "admin")
        spliced = f"{created['token'].rsplit('.', 1)[0]}.{other_agency.agency_id.hex}"

        assert_problem(await follow(identity, spliced), 404, "invitation-not-found")


class TestTenancy:
    async def test_another_agency_neither_lists_nor_revokes_our_invitations(
        self, identity: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        created = await invite(identity, agency, new_email(), "member")

        listed = await identity.get("/v1/invitations", headers=other_agency.headers)
        revoked = await identity.delete(
            f"/v1/invitations/{created['id']}", headers=other_agency.headers
        )

        assert created["id"] not in {i["id"] for i in listed.json()["items"]}
        assert_problem(revoked, 404)
        assert (await accept(identity, created["token"])).status_code == 201

    async def test_a_manager_cannot_revoke_an_admin_invitation(
        self, add_member: AddMember, identity: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        manager = await add_member(agency, "manager")
        created = await invite(identity, agency, new_email(), "admin")

        response = await identity.delete(
            f"/v1/invitations/{created['id']}", headers=manager.headers
        )

        assert_problem(response, 403)


async def test_signup_then_invite_roundtrip_works_for_a_fresh_agency(
    identity: httpx.AsyncClient,
) -> None:
    owner = await signup_agency(identity)
    created = await invite(identity, owner, new_email(), "owner")

    response = await accept(identity, created["token"])

    assert unverified_jwt(response.json()["access_token"])[1]["role"] == "owner"
