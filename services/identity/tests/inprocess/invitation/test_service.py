"""What accepting an invitation writes to identity's outbox, in the accepting transaction:
`identity.member.added` with the member's client binding and effective permissions, and
`identity.invitation.accepted` naming who invited them."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.testing.factories import PASSWORD, AgencySession, invite
from agencyos.testing.inprocess import ServiceInProcess
from agencyos.testing.sql import fetch_rows

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]
Outbox = Callable[..., Awaitable[list[dict[str, Any]]]]

ADDED = "identity.member.added"
ACCEPTED = "identity.invitation.accepted"


def new_email() -> str:
    return f"invitee-{uuid.uuid4().hex[:10]}@example.com"


async def accept(
    identity: httpx.AsyncClient, token: str, body: dict[str, Any] | None = None
) -> httpx.Response:
    return await identity.post(
        f"/v1/invitations/{token}/accept",
        json={"name": "Grace Hopper", "password": PASSWORD} if body is None else body,
    )


async def events_about(
    outbox: Outbox, agency: AgencySession, event_type: str, user_id: str
) -> list[dict[str, Any]]:
    return [
        e for e in await outbox(event_type, agency.agency_id) if e["data"]["user_id"] == user_id
    ]


async def client_invitation(
    service: ServiceInProcess, agency: AgencySession, email: str, client_id: uuid.UUID
) -> str:
    """An open client invitation written straight into identity's database (inviting a
    client through the API asks CRM, whose stand-in accepts only test-key tokens); its token."""
    token = f"inv_{secrets.token_urlsafe(32)}.{agency.agency_id.hex}"
    await fetch_rows(
        service.infra,
        service.database,
        "INSERT INTO invitations (tenant_id, id, email, role, client_id, token_hash, invited_by,"
        " expires_at) VALUES ($1, $2, $3, 'client', $4, encode(sha256($5::bytea), 'hex'), $6, $7)"
        " RETURNING id",
        agency.agency_id,
        uuid.uuid4(),
        email,
        client_id,
        token.encode(),
        agency.user_id,
        datetime.now(UTC) + timedelta(days=1),
        tenant_id=agency.agency_id,
        owner=True,
    )
    return token


class TestMemberAdded:
    async def test_a_new_member_is_added_with_their_roles_permissions_and_no_client(
        self, identity: httpx.AsyncClient, agency: AgencySession, outbox: Outbox
    ) -> None:
        email = new_email()
        created = await invite(identity, agency, email, "member")

        joined = await accept(identity, created["token"], {"name": "Grace", "password": PASSWORD})

        user_id = joined.json()["user"]["id"]
        (event,) = await events_about(outbox, agency, ADDED, user_id)
        assert event["data"] == {
            "agency_id": str(agency.agency_id),
            "user_id": user_id,
            "email": email,
            "name": "Grace",
            "role": "member",
            "client_id": None,
            "permissions": sorted(DEFAULT_ROLE_PERMISSIONS[Role.MEMBER]),
        }

    async def test_the_permissions_are_the_role_as_this_agency_tuned_it(
        self, identity: httpx.AsyncClient, agency: AgencySession, outbox: Outbox
    ) -> None:
        tuned = await identity.put(
            "/v1/roles/manager",
            json={"permissions": ["agency.read", "invoices.read"]},
            headers=agency.headers,
        )
        assert tuned.status_code == 200, tuned.text
        created = await invite(identity, agency, new_email(), "manager")

        user_id = (await accept(identity, created["token"])).json()["user"]["id"]

        (event,) = await events_about(outbox, agency, ADDED, user_id)
        assert event["data"]["permissions"] == ["agency.read", "invoices.read"]

    async def test_a_client_member_is_added_bound_to_their_client(
        self,
        identity_service: ServiceInProcess,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        outbox: Outbox,
    ) -> None:
        client_id = uuid.uuid4()
        token = await client_invitation(identity_service, agency, new_email(), client_id)

        joined = await accept(identity, token)

        assert joined.status_code == 201, joined.text
        (event,) = await events_about(outbox, agency, ADDED, joined.json()["user"]["id"])
        assert event["data"]["role"] == "client"
        assert event["data"]["client_id"] == str(client_id)
        assert event["data"]["permissions"] == sorted(DEFAULT_ROLE_PERMISSIONS[Role.CLIENT])


class TestInvitationAccepted:
    async def test_accepting_names_the_invitation_the_new_member_and_who_invited_them(
        self,
        add_member: AddMember,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        outbox: Outbox,
    ) -> None:
        manager = await add_member(agency, "manager")
        email = new_email()
        created = await invite(identity, manager, email, "member")

        joined = await accept(identity, created["token"], {"name": "Grace", "password": PASSWORD})

        user_id = joined.json()["user"]["id"]
        (event,) = await events_about(outbox, agency, ACCEPTED, user_id)
        assert event["subject"] == f"invitations/{created['id']}"
        assert event["data"] == {
            "agency_id": str(agency.agency_id),
            "invitation_id": created["id"],
            "user_id": user_id,
            "email": email,
            "name": "Grace",
            "role": "member",
            "invited_by": str(manager.user_id),
        }

    async def test_an_existing_account_joins_under_its_own_name(
        self,
        identity: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        outbox: Outbox,
    ) -> None:
        created = await invite(identity, agency, other_agency.email, "admin")
        me = await identity.get("/v1/me", headers=other_agency.headers)

        joined = await accept(identity, created["token"], {"password": PASSWORD})

        assert joined.status_code == 201, joined.text
        (event,) = await events_about(outbox, agency, ACCEPTED, str(other_agency.user_id))
        name = me.json()["user"]["name"]
        assert (event["data"]["name"], event["data"]["role"]) == (name, "admin")
