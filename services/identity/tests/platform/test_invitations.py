"""Invitations where CRM is part of the rule (so both run as processes): a client invitation
names a client company CRM must know as the agency's, and binds the member to it."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import (
    PASSWORD,
    AgencySession,
    add_member,
    create_crm_client,
    invite,
)
from agencyos.testing.http import assert_invalid_fields, unverified_jwt
from agencyos.testing.platform import Platform


def new_email() -> str:
    return f"invitee-{uuid.uuid4().hex[:10]}@example.com"


async def accept(
    gateway: httpx.AsyncClient,
    token: str,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return await gateway.post(
        f"/v1/invitations/{token}/accept",
        json={"name": "Grace Hopper", "password": PASSWORD} if body is None else body,
        headers=headers or {},
    )


class TestInviting:
    @pytest.mark.parametrize("role", ["member", "client"])
    async def test_a_manager_invites_members_and_clients(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession, role: str
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        client_id = await create_crm_client(platform, agency) if role == "client" else None

        created = await invite(gateway, manager, new_email(), role, client_id)

        assert created["role"] == role
        assert created["client_id"] == (str(client_id) if client_id else None)

    async def test_a_client_invitation_naming_a_client_crm_does_not_know_is_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        body = {"email": "a@example.com", "role": "client", "client_id": str(uuid.uuid4())}

        response = await gateway.post("/v1/invitations", json=body, headers=agency.headers)

        assert_invalid_fields(response, "client_id")

    async def test_a_client_invitation_cannot_name_another_agencys_client(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        theirs = await create_crm_client(platform, other_agency)

        response = await gateway.post(
            "/v1/invitations",
            json={"email": new_email(), "role": "client", "client_id": str(theirs)},
            headers=agency.headers,
        )

        assert_invalid_fields(response, "client_id")


class TestAcceptingAsANewPerson:
    async def test_a_client_invitation_binds_the_member_to_its_client(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client_id = await create_crm_client(platform, agency)
        created = await invite(gateway, agency, new_email(), "client", client_id)

        response = await accept(gateway, created["token"])

        claims = unverified_jwt(response.json()["access_token"])[1]
        assert (claims["role"], claims["cid"]) == ("client", str(client_id))
