"""Email verification and session policy through the whole platform (the gateway, identity,
billing, notification, mailpit): an unverified owner is refused inviting, API keys and
sending invoices until they follow the emailed link; idle and absolute session limits (the
timestamps moved in identity's database rather than slept); the IP allowlist at the gateway
for tokens and API keys, applying at once to tokens already issued; the new-device email,
once per device. The tests say which address they call from with X-Forwarded-For: the run's
gateway trusts 127.0.0.1 as a proxy (and identity trusts the gateway)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import PASSWORD, AgencySession, refreshed, signup_agency
from agencyos.testing.http import assert_problem, unverified_jwt
from agencyos.testing.inbox import link_to, one_email, open_link
from agencyos.testing.infra import wait_for
from agencyos.testing.mailpit import Mailpit
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows

pytestmark = pytest.mark.e2e

POLICY = "/v1/agency/security/sessions"
OFFICE = "203.0.113.0/24"
AT_OFFICE = "203.0.113.7"
ELSEWHERE = "198.51.100.20"


@pytest.fixture
async def mailpit(platform: Platform) -> AsyncIterator[Mailpit]:
    async with Mailpit(platform.mailpit_url) as client:
        yield client


def bearer(token: str, ip: str | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {token}"}
    if ip:
        headers["X-Forwarded-For"] = ip
    return headers


def from_ip(ip: str, **headers: str) -> dict[str, str]:
    return {"X-Forwarded-For": ip, **headers}


async def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


async def identity_sql(platform: Platform, tenant: uuid.UUID, query: str, *args: Any) -> None:
    await fetch_rows(
        platform.infra, platform.database("identity"), query, *args, tenant_id=tenant, owner=True
    )


async def draft_invoice(gateway: httpx.AsyncClient, owner: AgencySession) -> str:
    client = await ok(
        await gateway.post(
            "/v1/clients", json={"company_name": "Acme Corp"}, headers=owner.headers
        ),
        201,
    )
    draft = await ok(
        await gateway.post(
            "/v1/invoices",
            json={"client_id": client["id"], "include": []},
            headers=owner.headers,
        ),
        201,
    )
    await ok(
        await gateway.post(
            f"/v1/invoices/{draft['id']}/lines",
            json={"description": "Design", "quantity": "1", "unit_price_cents": 50_000},
            headers=owner.headers,
        ),
        201,
    )
    return str(draft["id"])


class TestEmailVerification:
    async def test_an_unverified_owner_is_refused_until_they_follow_the_emailed_link(
        self, platform: Platform, gateway: httpx.AsyncClient, mailpit: Mailpit
    ) -> None:
        owner = await signup_agency(gateway, verified=False)
        draft_id = await draft_invoice(gateway, owner)

        invite = {"email": f"new-{uuid.uuid4().hex[:8]}@example.com", "role": "member"}
        key = {"name": "sync", "role": "member"}
        for refused in (
            await gateway.post("/v1/invitations", json=invite, headers=owner.headers),
            await gateway.post("/v1/api-keys", json=key, headers=owner.headers),
            await gateway.post(f"/v1/invoices/{draft_id}/send", headers=owner.headers),
        ):
            body = assert_problem(refused, 403, "email-not-verified")
            assert "verify your email address" in body["detail"]

        message = await one_email(mailpit, owner.email, "Confirm your email")
        path = link_to(platform, message, "/v1/auth/verify-email?token=")
        verified = await open_link(gateway, path)  # the link, as a mail client opens it
        assert verified.status_code == 200, verified.text
        assert (await open_link(gateway, path)).status_code == 400  # once only

        owner = await refreshed(gateway, owner)
        assert unverified_jwt(owner.access_token)[1]["email_verified"] is True
        await ok(await gateway.post("/v1/invitations", json=invite, headers=owner.headers), 201)
        await ok(await gateway.post("/v1/api-keys", json=key, headers=owner.headers), 201)
        sent = await ok(await gateway.post(f"/v1/invoices/{draft_id}/send", headers=owner.headers))
        assert sent["status"] == "sent"


class TestSessionLimits:
    async def test_an_idle_session_and_a_too_old_one_are_refused_at_refresh(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await ok(
            await gateway.put(
                POLICY,
                json={"idle_timeout_minutes": 30, "absolute_lifetime_hours": 8, "ip_allowlist": []},
                headers=agency.headers,
            )
        )
        login = await ok(
            await gateway.post("/v1/auth/login", json={"email": agency.email, "password": PASSWORD})
        )
        idle_sid = unverified_jwt(agency.access_token)[1]["sid"]
        old_sid = unverified_jwt(login["access_token"])[1]["sid"]
        # one session unused for 31 minutes; the other began 9 hours ago but was just used
        await identity_sql(
            platform,
            agency.agency_id,
            "UPDATE refresh_tokens SET created_at = created_at - interval '31 minutes' "
            "WHERE family_id = $1",
            uuid.UUID(idle_sid),
        )
        fresh = await ok(
            await gateway.post("/v1/auth/refresh", json={"refresh_token": login["refresh_token"]})
        )
        await identity_sql(
            platform,
            agency.agency_id,
            "UPDATE refresh_tokens SET created_at = created_at - interval '9 hours' "
            "WHERE family_id = $1 AND used_at IS NOT NULL",
            uuid.UUID(old_sid),
        )

        idle = await gateway.post("/v1/auth/refresh", json={"refresh_token": agency.refresh_token})
        old = await gateway.post("/v1/auth/refresh", json={"refresh_token": fresh["refresh_token"]})

        assert_problem(idle, 401, "unauthenticated")
        assert_problem(old, 401, "unauthenticated")


class TestIpAllowlist:
    async def test_outside_addresses_are_refused_for_tokens_and_keys_at_once(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        key = (
            await ok(
                await gateway.post(
                    "/v1/api-keys", json={"name": "sync", "role": "member"}, headers=agency.headers
                ),
                201,
            )
        )["key"]
        # both work from anywhere, and the gateway now holds a token for the key
        await ok(await gateway.get("/v1/clients", headers=bearer(agency.access_token, ELSEWHERE)))
        await ok(await gateway.get("/v1/clients", headers=bearer(key, ELSEWHERE)))

        await ok(
            await gateway.put(
                POLICY,
                json={"ip_allowlist": [OFFICE]},
                headers=bearer(agency.access_token, AT_OFFICE),
            )
        )

        # the token issued before the change is refused at once, from anywhere
        stale = await gateway.get("/v1/clients", headers=bearer(agency.access_token, AT_OFFICE))
        assert_problem(stale, 401, "unauthenticated")
        # a sign-in or refresh from outside is refused; from the office it carries the list
        outside_login = await gateway.post(
            "/v1/auth/login",
            json={"email": agency.email, "password": PASSWORD},
            headers=from_ip(ELSEWHERE),
        )
        assert_problem(outside_login, 403, "address-not-allowed")
        outside_refresh = await gateway.post(
            "/v1/auth/refresh",
            json={"refresh_token": agency.refresh_token},
            headers=from_ip(ELSEWHERE),
        )
        assert_problem(outside_refresh, 403, "address-not-allowed")
        fresh = await ok(
            await gateway.post(
                "/v1/auth/refresh",
                json={"refresh_token": agency.refresh_token},
                headers=from_ip(AT_OFFICE),
            )
        )
        assert unverified_jwt(fresh["access_token"])[1]["ipal"] == [OFFICE]
        await ok(await gateway.get("/v1/clients", headers=bearer(fresh["access_token"], AT_OFFICE)))
        for ip in (ELSEWHERE, None):  # None: the test's own 127.0.0.1
            refused = await gateway.get("/v1/clients", headers=bearer(fresh["access_token"], ip))
            assert_problem(refused, 403, "address-not-allowed")
        # the API key: refused from outside, its cached token notwithstanding
        assert_problem(
            await gateway.get("/v1/clients", headers=bearer(key, ELSEWHERE)),
            403,
            "address-not-allowed",
        )
        me = await ok(await gateway.get("/v1/me", headers=bearer(key, AT_OFFICE)))
        assert me["kind"] == "api_key"


async def notices_with(notices: Callable[[], Awaitable[list[Any]]], text: str) -> list[Any] | None:
    found = await notices()
    return found if any(text in m.text for m in found) else None


class TestNewDeviceEmail:
    async def test_a_new_device_is_emailed_once_and_not_again_for_the_same_one(
        self, platform: Platform, gateway: httpx.AsyncClient, mailpit: Mailpit
    ) -> None:
        owner = await signup_agency(gateway)

        async def sign_in(user_agent: str, ip: str) -> None:
            await ok(
                await gateway.post(
                    "/v1/auth/login",
                    json={"email": owner.email, "password": PASSWORD},
                    headers=from_ip(ip, **{"User-Agent": user_agent}),
                )
            )

        await sign_in("E2E Phone", ELSEWHERE)
        await sign_in("E2E Phone", ELSEWHERE)  # the same device again: no email
        await sign_in("E2E Tablet", "192.0.2.50")

        async def notices() -> list[Any]:
            return [m for m in await mailpit.messages_to(owner.email) if "New sign-in" in m.subject]

        # the tablet's notice comes after the repeated phone sign-in was handled
        await wait_for(lambda: notices_with(notices, "E2E Tablet"), timeout=60, interval=0.2)
        await platform.wait_for_consumers()
        found = await notices()
        devices = sorted("E2E Phone" if "E2E Phone" in m.text else "E2E Tablet" for m in found)
        assert devices == ["E2E Phone", "E2E Tablet"]
        phone = next(m for m in found if "E2E Phone" in m.text)
        assert ELSEWHERE in phone.text
        assert phone.to == [owner.email]
