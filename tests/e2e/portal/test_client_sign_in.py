"""A client user's way in, through the gateway against the whole platform: a manager invites a
client's contact to the portal, the contact accepts from the invitation email, later asks for
a sign-in link, opens the email, and signs in with it as a client user of that client."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from agencyos.testing.factories import AgencySession, add_member
from agencyos.testing.http import assert_problem, unverified_jwt
from agencyos.testing.inbox import link_to, one_email, open_link
from agencyos.testing.mailpit import Mailpit, unique_address
from agencyos.testing.platform import Platform

pytestmark = pytest.mark.e2e


@pytest.fixture
async def mailpit(platform: Platform) -> AsyncIterator[Mailpit]:
    async with Mailpit(platform.mailpit_url) as client:
        yield client


class TestClientSignIn:
    async def test_a_contact_invited_to_the_portal_signs_in_by_emailed_link(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        mailpit: Mailpit,
        agency: AgencySession,
    ) -> None:
        manager = await add_member(platform, gateway, agency, "manager")
        created = await gateway.post(
            "/v1/clients",
            json={"company_name": f"Client {uuid.uuid4().hex[:8]}"},
            headers=manager.headers,
        )
        assert created.status_code == 201, created.text
        client_id = created.json()["id"]
        email = unique_address("contact")
        contact = await gateway.post(
            f"/v1/clients/{client_id}/contacts",
            json={"name": "Grace Contact", "email": email},
            headers=manager.headers,
        )
        assert contact.status_code == 201, contact.text

        # The manager invites the contact to the portal.
        invited = await gateway.post(
            f"/v1/clients/{client_id}/portal-invitations",
            json={"contact_id": contact.json()["id"]},
            headers=manager.headers,
        )
        assert invited.status_code == 201, invited.text
        assert (invited.json()["role"], invited.json()["client_id"]) == ("client", client_id)
        again = await gateway.post(
            f"/v1/clients/{client_id}/portal-invitations",
            json={"contact_id": contact.json()["id"]},
            headers=manager.headers,
        )
        assert_problem(again, 409)

        # The contact accepts from the invitation email.
        invitation = await one_email(mailpit, email, "invited you")
        accept_path = link_to(platform, invitation, "/v1/invitations/")
        accepted = await gateway.post(
            accept_path, json={"name": "Grace Contact", "password": "a client's own passphrase"}
        )
        assert accepted.status_code == 201, accepted.text

        # Later: a sign-in link, asked for without a password.
        asked = await gateway.post(
            "/v1/auth/magic-link", json={"email": email, "agency_slug": agency.slug}
        )
        assert asked.status_code == 202, asked.text
        message = await one_email(mailpit, email, "sign-in link")
        # A client user's link opens the portal's sign-in page (which spends nothing).
        path = link_to(platform, message, f"/portal/{agency.slug}/sign-in/link?token=")
        looked = await open_link(gateway, path)  # as a mail client (or a scanner) opens it
        assert looked.status_code == 200, looked.text
        assert "Sign in" in looked.text
        token = httpx.URL(path).params["token"]

        signed_in = await gateway.post("/v1/auth/magic-link/verify", json={"token": token})

        assert signed_in.status_code == 200, signed_in.text
        _, claims = unverified_jwt(signed_in.json()["access_token"])
        assert (claims["role"], claims["cid"], claims["tid"], claims["amr"]) == (
            "client",
            client_id,
            str(agency.agency_id),
            ["email"],
        )
        me = await gateway.get(
            "/v1/me", headers={"Authorization": f"Bearer {signed_in.json()['access_token']}"}
        )
        assert me.status_code == 200, me.text
        assert me.json()["role"] == "client"
        reused = await gateway.post("/v1/auth/magic-link/verify", json={"token": token})
        assert_problem(reused, 400)
