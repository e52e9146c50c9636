"""Async factories for test data, made through the real API wherever the API can make it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from agencyos.testing.platform import Platform
from agencyos.testing.verification import verification_token

PASSWORD = "correct horse battery staple"


@dataclass(frozen=True)
class AgencySession:
    agency_id: uuid.UUID
    slug: str
    user_id: uuid.UUID
    email: str
    access_token: str
    refresh_token: str
    role: str = "owner"

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token}"}


async def signup_agency(
    client: httpx.AsyncClient, name: str | None = None, *, verified: bool = True
) -> AgencySession:
    """A new agency and its owner, signed up through `client` (identity, or a gateway). With
    `verified` the owner then verifies their email through the API with the emailed token
    and refreshes, so their token says `email_verified: true` (when the harness knows the
    identity behind `client`: agencyos.testing.verification)."""
    tag = uuid.uuid4().hex[:10]
    response = await client.post(
        "/v1/auth/signup",
        json={
            "agency_name": name or f"Agency {tag}",
            "email": f"owner-{tag}@example.com",
            "password": PASSWORD,
            "name": f"Owner {tag}",
        },
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    owner = AgencySession(
        agency_id=uuid.UUID(body["agency"]["id"]),
        slug=body["agency"]["slug"],
        user_id=uuid.UUID(body["user"]["id"]),
        email=body["user"]["email"],
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
    )
    if verified:
        owner = await verify_email(client, owner)
    return owner


async def verify_email(client: httpx.AsyncClient, who: AgencySession) -> AgencySession:
    """`who` after verifying their email with the token identity emailed them (read from
    identity's outbox) and refreshing; `who` unchanged if the harness cannot find it."""
    token = await verification_token(client, who.user_id)
    if token is None:
        return who
    response = await client.post("/v1/auth/verify-email", json={"token": token})
    assert response.status_code == 200, response.text
    return await refreshed(client, who)


async def add_membership(
    platform: Platform, agency: AgencySession, user_id: uuid.UUID, role: str = "member"
) -> None:
    """Make an existing user a member of `agency` too (a second agency for one login),
    without their password: the row is written straight into identity's database, under the
    agency's tenant as RLS requires. (`add_member` goes through the invitation API.)
    """
    conn = await platform.infra.raw(platform.database("identity"), owner=True)
    try:
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('app.tenant_id', $1, true)", str(agency.agency_id)
            )
            await conn.execute(
                "INSERT INTO memberships (tenant_id, id, user_id, role, client_id) "
                "VALUES ($1, $2, $3, $4, $5)",
                agency.agency_id,
                uuid.uuid4(),
                user_id,
                role,
                uuid.uuid4() if role == "client" else None,
            )
    finally:
        await conn.close()


async def create_crm_client(platform: Platform, who: AgencySession) -> uuid.UUID:
    """A client company in `who`'s agency, made through CRM's API (via the gateway)."""
    async with httpx.AsyncClient(base_url=platform.gateway_url, timeout=30.0) as gateway:
        response = await gateway.post(
            "/v1/clients",
            json={"company_name": f"Client {uuid.uuid4().hex[:8]}"},
            headers=who.headers,
        )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def invite(
    client: httpx.AsyncClient,
    inviter: AgencySession,
    email: str,
    role: str,
    client_id: uuid.UUID | None = None,
) -> dict[str, Any]:
    """`inviter` invites `email` with `role`; answers the created invitation (with its token)."""
    body: dict[str, Any] = {"email": email, "role": role}
    if client_id is not None:
        body["client_id"] = str(client_id)
    response = await client.post("/v1/invitations", json=body, headers=inviter.headers)
    assert response.status_code == 201, response.text
    invitation: dict[str, Any] = response.json()
    return invitation


async def add_member(
    platform: Platform, client: httpx.AsyncClient, agency: AgencySession, role: str
) -> AgencySession:
    """A new person in `agency` with `role`, through the real invitation flow: the agency's
    session invites them and they accept with a new account (a client member is bound to a
    new CRM client)."""
    tag = uuid.uuid4().hex[:10]
    email = f"{role}-{tag}@example.com"
    client_id = await create_crm_client(platform, agency) if role == "client" else None
    invitation = await invite(client, agency, email, role, client_id)
    response = await client.post(
        f"/v1/invitations/{invitation['token']}/accept",
        json={"name": f"{role.title()} {tag}", "password": PASSWORD},
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return AgencySession(
        agency_id=agency.agency_id,
        slug=agency.slug,
        user_id=uuid.UUID(body["user"]["id"]),
        email=email,
        access_token=body["access_token"],
        refresh_token=body["refresh_token"],
        role=role,
    )


async def refreshed(client: httpx.AsyncClient, who: AgencySession) -> AgencySession:
    """`who` after a token refresh: the new access token carries their role and permissions
    as identity has them now."""
    response = await client.post("/v1/auth/refresh", json={"refresh_token": who.refresh_token})
    assert response.status_code == 200, response.text
    body = response.json()
    return replace(who, access_token=body["access_token"], refresh_token=body["refresh_token"])


async def new_project(
    client: httpx.AsyncClient,
    who: AgencySession,
    *members: AgencySession,
    **fields: Any,
) -> dict[str, Any]:
    """A project made by `who` through work's API, with `members` (the creator is one too)."""
    response = await client.post(
        "/v1/projects",
        json={
            "name": f"Project {uuid.uuid4().hex[:8]}",
            "member_ids": [str(m.user_id) for m in members],
            **fields,
        },
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    project: dict[str, Any] = response.json()
    return project


async def new_task(
    client: httpx.AsyncClient, who: AgencySession, project_id: str, **fields: Any
) -> dict[str, Any]:
    """A task on `project_id` (a generated title unless `fields` names one)."""
    body = {"title": f"Task {uuid.uuid4().hex[:6]}", **fields}
    response = await client.post(f"/v1/projects/{project_id}/tasks", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    task: dict[str, Any] = response.json()
    return task


async def get_board(
    client: httpx.AsyncClient, who: AgencySession, project_id: str
) -> dict[str, Any]:
    response = await client.get(f"/v1/projects/{project_id}/board", headers=who.headers)
    assert response.status_code == 200, response.text
    board: dict[str, Any] = response.json()
    return board


async def seed_invoice(
    platform: Platform,
    agency: AgencySession,
    *,
    total_cents: int = 100_000,
    tax_cents: int = 0,
    status: str = "sent",
    currency: str = "EUR",
    due_date: date | None = None,
    issue_date: date | None = None,
    amount_paid_cents: int = 0,
    client_id: uuid.UUID | None = None,
    number: str | None = None,
    checkout_session_id: str | None = None,
    payment_url: str | None = None,
    timezone: str | None = None,
) -> uuid.UUID:
    """An invoice written straight into billing's database under the agency's tenant (a sent
    one by default: numbered, issued today, due in 30 days), for tests of payments, Stripe
    webhooks and the scheduler that need an invoice in a given state without the whole
    draft-and-send flow. With `checkout_session_id`, also the `stripe_references` row that
    sending writes, so webhooks for that session find the invoice. Tests of invoices
    themselves go through the API."""
    invoice_id = uuid.uuid4()
    today = datetime.now(UTC).date()
    issued = issue_date or today
    due = due_date or issued + timedelta(days=30)
    if status != "draft" and number is None:
        number = f"TEST-{uuid.uuid4().hex[:8].upper()}"
    conn = await platform.infra.raw(platform.database("billing"), owner=True)
    try:
        async with conn.transaction():
            await conn.execute(
                "SELECT set_config('app.tenant_id', $1, true)", str(agency.agency_id)
            )
            await conn.execute(
                "INSERT INTO invoices (tenant_id, id, client_id, number, status, currency, "
                "issue_date, due_date, subtotal_cents, tax_cents, total_cents, "
                "amount_paid_cents, payment_url, stripe_checkout_session_id, sent_at, "
                "created_by, timezone) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, "
                "$12, $13, $14, $15, $16, $17)",
                agency.agency_id,
                invoice_id,
                client_id or uuid.uuid4(),
                number,
                status,
                currency,
                None if status == "draft" else issued,
                due,
                total_cents - tax_cents,
                tax_cents,
                total_cents,
                amount_paid_cents,
                payment_url,
                checkout_session_id,
                None
                if status == "draft"
                else datetime.combine(issued, datetime.min.time(), tzinfo=UTC),
                agency.user_id,
                timezone,
            )
            if checkout_session_id is not None:
                await conn.execute(
                    "INSERT INTO stripe_references (stripe_id, tenant_id, invoice_id) "
                    "VALUES ($1, $2, $3)",
                    checkout_session_id,
                    agency.agency_id,
                    invoice_id,
                )
    finally:
        await conn.close()
    return invoice_id


def as_caller(who: AgencySession) -> list[tuple[str, str]]:
    """gRPC metadata that calls as `who` (the token services verify again)."""
    return [("authorization", f"Bearer {who.access_token}")]
