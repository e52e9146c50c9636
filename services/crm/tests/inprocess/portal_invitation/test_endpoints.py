"""Portal invitations from a client's contact: CRM checks the caller, the client and the
contact, then asks identity (its typed stand-in here) to invite the contact's email as a client
user bound to that client."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess


async def create_client(crm: httpx.AsyncClient, who: Caller) -> dict[str, Any]:
    body = {"company_name": f"Client {uuid.uuid4().hex[:8]}"}
    response = await crm.post("/v1/clients", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def add_contact(
    crm: httpx.AsyncClient, who: Caller, client_id: str, email: str | None = "auto"
) -> dict[str, Any]:
    body: dict[str, Any] = {"name": f"Person {uuid.uuid4().hex[:6]}"}
    if email == "auto":
        email = f"contact-{uuid.uuid4().hex[:8]}@client.example"
    if email is not None:
        body["email"] = email
    response = await crm.post(f"/v1/clients/{client_id}/contacts", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def invite(
    crm: httpx.AsyncClient, who: Caller, client_id: str, contact_id: str
) -> httpx.Response:
    return await crm.post(
        f"/v1/clients/{client_id}/portal-invitations",
        json={"contact_id": contact_id},
        headers=who.headers,
    )


class TestInviting:
    async def test_a_manager_invites_a_contact_as_a_client_user_of_that_client(
        self, crm: httpx.AsyncClient, tenant: Agency, in_process: InProcess
    ) -> None:
        manager = tenant.caller("manager")
        client = await create_client(crm, tenant.owner)
        contact = await add_contact(crm, tenant.owner, client["id"])

        response = await invite(crm, manager, client["id"], contact["id"])

        assert response.status_code == 201, response.text
        body = response.json()
        assert (body["email"], body["role"], body["client_id"], body["contact_id"]) == (
            contact["email"],
            "client",
            client["id"],
            contact["id"],
        )
        assert (body["status"], body["invited_by"]) == ("pending", str(manager.user_id))
        assert "token" not in body
        made = in_process.standins.identity.client_invitations[-1]
        assert (made.email, made.client_id) == (contact["email"], client["id"])

    async def test_inviting_the_same_contact_again_is_a_409(
        self, crm: httpx.AsyncClient, tenant: Agency
    ) -> None:
        client = await create_client(crm, tenant.owner)
        contact = await add_contact(crm, tenant.owner, client["id"])
        assert (await invite(crm, tenant.owner, client["id"], contact["id"])).status_code == 201

        again = await invite(crm, tenant.owner, client["id"], contact["id"])

        assert_problem(again, 409)

    async def test_a_contact_who_is_already_a_member_is_a_409(
        self, crm: httpx.AsyncClient, tenant: Agency, in_process: InProcess
    ) -> None:
        member = tenant.caller("member")
        known = in_process.standins.identity.members[(tenant.id, member.user_id)].email
        client = await create_client(crm, tenant.owner)
        contact = await add_contact(crm, tenant.owner, client["id"], email=known)

        assert_problem(await invite(crm, tenant.owner, client["id"], contact["id"]), 409)

    async def test_a_contact_without_an_email_is_a_422_naming_contact_id(
        self, crm: httpx.AsyncClient, tenant: Agency
    ) -> None:
        client = await create_client(crm, tenant.owner)
        contact = await add_contact(crm, tenant.owner, client["id"], email=None)

        body = assert_problem(await invite(crm, tenant.owner, client["id"], contact["id"]), 422)
        assert [e["field"] for e in body["errors"]] == ["contact_id"]


class TestIsolation:
    async def test_another_clients_contact_is_a_404_and_nothing_is_asked(
        self, crm: httpx.AsyncClient, tenant: Agency, in_process: InProcess
    ) -> None:
        client = await create_client(crm, tenant.owner)
        other_client = await create_client(crm, tenant.owner)
        their_contact = await add_contact(crm, tenant.owner, other_client["id"])
        before = len(in_process.standins.identity.client_invitations)

        response = await invite(crm, tenant.owner, client["id"], their_contact["id"])

        assert_problem(response, 404)
        assert len(in_process.standins.identity.client_invitations) == before

    async def test_another_agencys_client_and_contact_are_404(
        self, crm: httpx.AsyncClient, tenant: Agency, other_tenant: Agency
    ) -> None:
        theirs = await create_client(crm, other_tenant.owner)
        their_contact = await add_contact(crm, other_tenant.owner, theirs["id"])
        mine = await create_client(crm, tenant.owner)

        assert_problem(await invite(crm, tenant.owner, theirs["id"], their_contact["id"]), 404)
        assert_problem(await invite(crm, tenant.owner, mine["id"], their_contact["id"]), 404)

    async def test_an_unknown_client_is_404(self, crm: httpx.AsyncClient, tenant: Agency) -> None:
        response = await invite(crm, tenant.owner, str(uuid.uuid4()), str(uuid.uuid4()))

        assert_problem(response, 404)


class TestPermissions:
    @pytest.mark.parametrize("role", ["member", "client"])
    async def test_a_role_that_may_not_invite_is_403(
        self, crm: httpx.AsyncClient, tenant: Agency, role: str
    ) -> None:
        client = await create_client(crm, tenant.owner)
        contact = await add_contact(crm, tenant.owner, client["id"])

        response = await invite(crm, tenant.caller(role), client["id"], contact["id"])

        assert_problem(response, 403)

    async def test_an_inviter_with_an_unverified_email_is_403(
        self, crm: httpx.AsyncClient, tenant: Agency
    ) -> None:
        client = await create_client(crm, tenant.owner)
        contact = await add_contact(crm, tenant.owner, client["id"])
        unverified = Caller(
            tenant.id,
            tenant.owner.user_id,
            "owner",
            tenant.keys.mint(
                sub=str(tenant.owner.user_id),
                tid=str(tenant.id),
                role="owner",
                email_verified=False,
            ),
            None,
        )

        response = await invite(crm, unverified, client["id"], contact["id"])

        assert_problem(response, 403, "email-not-verified")
