"""The portal's pages under attack, through the gateway against the whole platform (plain
HTTP, as a script would): forms without or with a wrong CSRF token or from another site, a
session cookie replayed under another agency's slug, a staff member's sign-in link, a link
used twice, another client's and another agency's ids. And what every page carries: its
security headers and a cookie scoped to its agency's portal."""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from redis.asyncio import Redis

from agencyos.testing.deals import create_client
from agencyos.testing.factories import AgencySession, new_project
from agencyos.testing.inbox import join, link_to, one_email
from agencyos.testing.infra import wait_for
from agencyos.testing.mailpit import Mailpit
from agencyos.testing.platform import Platform
from agencyos.testing.portal_web import COOKIE, PortalVisitor

from .portal_support import sent_invoice

pytestmark = pytest.mark.e2e


@pytest.fixture
async def mailpit(platform: Platform) -> AsyncIterator[Mailpit]:
    async with Mailpit(platform.mailpit_url) as client:
        yield client


async def client_user(
    gateway: httpx.AsyncClient, agency: AgencySession, name: str
) -> tuple[AgencySession, dict[str, str]]:
    """A client of `agency`, its client user and a project of it."""
    client = await create_client(gateway, agency, company_name=f"{name} Corp")
    user = await join(gateway, agency, "client", name=f"{name} Client", client_id=client["id"])
    manager = await join(gateway, agency, "manager", name=f"{name} Manager")
    project = await new_project(
        gateway, agency, manager, name=f"{name} site {uuid.uuid4().hex[:4]}", client_id=client["id"]
    )
    return user, project


def assert_refused_page(response: httpx.Response, status: int) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("text/html"), response.headers


class TestPagesAndHeaders:
    async def test_the_sign_in_page_is_served_without_a_token_with_its_security_headers(
        self, platform: Platform, agency: AgencySession
    ) -> None:
        async with PortalVisitor(platform, agency.slug) as visitor:
            page = await visitor.get("/sign-in")

            assert page.status_code == 200, page.text
            assert page.headers["content-type"].startswith("text/html")
            csp = page.headers["content-security-policy"]
            assert "script-src 'self'" in csp
            assert "frame-ancestors 'none'" in csp
            assert "'unsafe-inline'" not in csp
            assert page.headers["x-frame-options"] == "DENY"
            assert page.headers["referrer-policy"] == "same-origin"
            assert page.headers["cache-control"] == "no-store"
            cookie = page.headers["set-cookie"]
            assert cookie.startswith(f"{COOKIE}=")
            assert "HttpOnly" in cookie
            assert "SameSite=lax" in cookie or "SameSite=Lax" in cookie
            assert f"Path=/portal/{agency.slug}/" in cookie
            assert '<meta name="viewport"' in page.text
            assert '<label for="email">' in page.text

    async def test_htmx_is_served_by_the_portal_itself(self, platform: Platform) -> None:
        async with httpx.AsyncClient(base_url=platform.gateway_url) as http:
            script = await http.get("/portal/_static/vendor/htmx.min.js")

        assert script.status_code == 200
        assert script.headers["content-type"].startswith("text/javascript")
        assert "htmx" in script.text[:2000]

    async def test_an_unknown_agency_has_no_portal(self, platform: Platform) -> None:
        async with PortalVisitor(platform, f"nobody-{uuid.uuid4().hex[:8]}") as visitor:
            page = await visitor.get("/sign-in")

        assert_refused_page(page, 404)

    async def test_signed_out_the_dashboard_sends_the_browser_to_sign_in(
        self, platform: Platform, agency: AgencySession
    ) -> None:
        async with PortalVisitor(platform, agency.slug) as visitor:
            page = await visitor.get("/")

        assert page.status_code == 303
        assert page.headers["location"] == f"/portal/{agency.slug}/sign-in"


class TestCsrf:
    @pytest.mark.parametrize(
        "csrf", [None, "a-token-of-our-own"], ids=["without-token", "wrong-token"]
    )
    async def test_a_form_without_its_sessions_token_is_refused(
        self, platform: Platform, agency: AgencySession, csrf: str | None
    ) -> None:
        async with PortalVisitor(platform, agency.slug) as visitor:
            await visitor.get("/sign-in")
            form = {"email": "x@example.com"} | ({"csrf_token": csrf} if csrf else {})
            refused = await visitor.http.post(
                visitor.base + "/sign-in", data=form, headers=visitor.origin
            )

        assert_refused_page(refused, 403)

    async def test_a_form_from_another_site_is_refused_even_with_the_token(
        self, platform: Platform, agency: AgencySession
    ) -> None:
        async with PortalVisitor(platform, agency.slug) as visitor:
            await visitor.get("/sign-in")
            other_site = await visitor.post(
                "/sign-in", {"email": "x@example.com"}, headers={"origin": "https://evil.example"}
            )
            no_origin = await visitor.http.post(
                visitor.base + "/sign-in",
                data={"email": "x@example.com", "csrf_token": visitor.csrf},
            )
            right = await visitor.post("/sign-in", {"email": "x@example.com"})

        assert_refused_page(other_site, 403)
        assert_refused_page(no_origin, 403)
        assert right.status_code == 200, right.text  # the control: the same form, rightly sent

    async def test_a_signed_in_decision_without_the_token_is_refused(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        mailpit: Mailpit,
    ) -> None:
        user, project = await client_user(gateway, agency, "Dora")
        async with PortalVisitor(platform, agency.slug) as visitor:
            signed_in = await visitor.sign_in(mailpit, user.email)
            assert signed_in.status_code == 303, signed_in.text
            refused = await visitor.post(
                f"/projects/{project['id']}/feedback", {"message": "sneaky"}, csrf="-"
            )
            accepted = await visitor.get(f"/projects/{project['id']}/feedback")

        assert_refused_page(refused, 403)
        assert accepted.status_code == 200
        tasks = await gateway.get(f"/v1/projects/{project['id']}/tasks", headers=agency.headers)
        assert "sneaky" not in [t["title"] for t in tasks.json()["items"]]


class TestSessions:
    async def test_signing_in_gives_a_new_cookie_and_signing_out_ends_the_identity_session(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        mailpit: Mailpit,
    ) -> None:
        user, _ = await client_user(gateway, agency, "Sid")
        before = await gateway.get("/v1/sessions", headers=user.headers)
        async with PortalVisitor(platform, agency.slug) as visitor:
            await visitor.get("/sign-in")
            planted = visitor.http.cookies.get(COOKIE)
            signed_in = await visitor.sign_in(mailpit, user.email)
            assert signed_in.status_code == 303, signed_in.text
            assert signed_in.headers["location"] == f"/portal/{agency.slug}/"
            session_cookie = visitor.http.cookies.get(COOKIE)
            assert session_cookie
            assert session_cookie != planted
            during = await gateway.get("/v1/sessions", headers=user.headers)
            dashboard = await visitor.get("/")
            assert dashboard.status_code == 200, dashboard.text

            signed_out = await visitor.post("/sign-out")
            assert signed_out.status_code == 303
            after = await gateway.get("/v1/sessions", headers=user.headers)

        assert during.json()["total"] == before.json()["total"] + 1
        assert after.json()["total"] == before.json()["total"]
        # The cookie from before the sign-out opens nothing any more.
        async with httpx.AsyncClient(
            base_url=platform.gateway_url, cookies={COOKIE: session_cookie}
        ) as stale:
            again = await stale.get(f"/portal/{agency.slug}/")
        assert again.status_code == 303

    async def test_a_session_cookie_replayed_under_another_agencys_slug_opens_nothing(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        mailpit: Mailpit,
    ) -> None:
        user, _ = await client_user(gateway, agency, "Rex")
        async with PortalVisitor(platform, agency.slug) as visitor:
            await visitor.sign_in(mailpit, user.email)
            cookie = visitor.http.cookies.get(COOKIE)
            own = await visitor.get("/")
        assert own.status_code == 200  # the control

        async with httpx.AsyncClient(
            base_url=platform.gateway_url, cookies={COOKIE: cookie or ""}
        ) as attacker:
            replayed = await attacker.get(f"/portal/{other_agency.slug}/")

        assert replayed.status_code == 303
        assert replayed.headers["location"] == f"/portal/{other_agency.slug}/sign-in"

    async def test_an_expiring_access_token_is_refreshed_through_identity(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        mailpit: Mailpit,
    ) -> None:
        user, _ = await client_user(gateway, agency, "Ray")
        redis = Redis.from_url(platform.redis_url)
        try:
            async with PortalVisitor(platform, agency.slug) as visitor:
                await visitor.sign_in(mailpit, user.email)
                key = session_key(platform, visitor.http.cookies.get(COOKIE) or "")
                stored = json.loads(await redis.get(key))
                # The server side as it would be once the access token is about to expire.
                stored["access_expires_at"] = time.time() - 1
                await redis.set(key, json.dumps(stored), keepttl=True)

                page = await visitor.get("/")

                after = json.loads(await redis.get(key))
        finally:
            await redis.aclose()

        assert page.status_code == 200, page.text
        assert after["refresh_token"] != stored["refresh_token"]  # rotated by identity
        assert after["access_token"] != stored["access_token"]
        assert after["access_expires_at"] > time.time()

    async def test_ending_every_session_from_the_app_signs_the_portal_out(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        mailpit: Mailpit,
    ) -> None:
        user, _ = await client_user(gateway, agency, "Eve")
        async with PortalVisitor(platform, agency.slug) as visitor:
            await visitor.sign_in(mailpit, user.email)
            assert (await visitor.get("/")).status_code == 200  # the control
            ended = await gateway.post("/v1/sessions/revoke-all", headers=user.headers)
            assert ended.status_code == 204, ended.text

            async def signed_out() -> bool:
                return (await visitor.get("/")).status_code == 303

            assert await wait_for(signed_out, timeout=10, interval=0.3)


def session_key(platform: Platform, cookie: str) -> str:
    """Where the portal keeps a page session in Redis (its run's namespace)."""
    digest = hashlib.sha256(cookie.encode()).hexdigest()
    return f"agencyos:portal-web:{platform.revocation_namespace}:{digest}"


class TestSignInLinks:
    async def test_a_staff_members_link_gets_no_portal_session_and_stays_unspent(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        mailpit: Mailpit,
    ) -> None:
        staff = await join(gateway, agency, "member", name="Stan Staff")
        asked = await gateway.post(
            "/v1/auth/magic-link", json={"email": staff.email, "agency_slug": agency.slug}
        )
        assert asked.status_code == 202
        message = await one_email(mailpit, staff.email, "sign-in link")
        # A staff member's email links the API's page, not the portal's.
        path = link_to(platform, message, "/v1/auth/magic-link/verify?token=")
        token = str(httpx.URL(path).params["token"])

        async with PortalVisitor(platform, agency.slug) as visitor:
            refused = await visitor.redeem(token)
            assert COOKIE not in refused.headers.get("set-cookie", "")

        assert_refused_page(refused, 403)
        assert "team" in refused.text
        still_works = await gateway.post("/v1/auth/magic-link/verify", json={"token": token})
        assert still_works.status_code == 200, still_works.text

    async def test_a_link_works_once(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        mailpit: Mailpit,
    ) -> None:
        user, _ = await client_user(gateway, agency, "Una")
        async with PortalVisitor(platform, agency.slug) as first:
            await first.get("/sign-in")
            await first.post("/sign-in", {"email": user.email})
            token = await first.emailed_token(mailpit, user.email)
            used = await first.redeem(token)
        assert used.status_code == 303, used.text

        async with PortalVisitor(platform, agency.slug) as second:
            reused = await second.redeem(token)
            dashboard = await second.get("/")

        assert_refused_page(reused, 400)
        assert "not valid" in reused.text
        assert dashboard.status_code == 303  # still signed out

    async def test_a_link_of_one_agency_does_not_sign_in_under_anothers_slug(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        mailpit: Mailpit,
    ) -> None:
        user, _ = await client_user(gateway, agency, "Ola")
        async with PortalVisitor(platform, agency.slug) as own:
            await own.get("/sign-in")
            await own.post("/sign-in", {"email": user.email})
            token = await own.emailed_token(mailpit, user.email)

        async with PortalVisitor(platform, other_agency.slug) as elsewhere:
            refused = await elsewhere.redeem(token)
        assert_refused_page(refused, 403)

        async with PortalVisitor(platform, agency.slug) as own_again:
            works = await own_again.redeem(token)  # unspent: still good at home
        assert works.status_code == 303, works.text


class TestIsolation:
    async def test_a_client_user_sees_only_its_own_clients_pages(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
        mailpit: Mailpit,
    ) -> None:
        x_user, x_project = await client_user(gateway, agency, "Xeno")
        _, y_project = await client_user(gateway, agency, "Yara")
        _, z_project = await client_user(gateway, other_agency, "Zed")

        async with PortalVisitor(platform, agency.slug) as x:
            await x.sign_in(mailpit, x_user.email)
            dashboard = await x.get("/")
            own = await x.get(f"/projects/{x_project['id']}")
            other_client = await x.get(f"/projects/{y_project['id']}")
            other_agency_project = await x.get(f"/projects/{z_project['id']}")
            other_feedback = await x.post(
                f"/projects/{y_project['id']}/feedback", {"message": "hello Y"}
            )
            not_an_id = await x.get("/projects/not-a-uuid")

        assert dashboard.status_code == 200
        assert x_project["name"] in dashboard.text
        assert y_project["name"] not in dashboard.text
        assert own.status_code == 200
        assert_refused_page(other_client, 404)
        assert y_project["name"] not in other_client.text
        assert_refused_page(other_agency_project, 404)
        assert_refused_page(other_feedback, 404)
        assert_refused_page(not_an_id, 404)

    async def test_a_client_user_reaches_only_its_own_clients_invoices(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        mailpit: Mailpit,
    ) -> None:
        x_user, x_project = await client_user(gateway, agency, "Ivo")
        _, y_project = await client_user(gateway, agency, "Ina")
        x_invoice = await sent_invoice(gateway, agency, str(x_project["client_id"]), 12_300)
        y_invoice = await sent_invoice(gateway, agency, str(y_project["client_id"]), 45_600)

        async with PortalVisitor(platform, agency.slug) as x:
            await x.sign_in(mailpit, x_user.email)
            listed = await x.get("/invoices")
            own = await x.get(f"/invoices/{x_invoice['id']}")
            others = await x.get(f"/invoices/{y_invoice['id']}")
            others_pdf = await x.get(f"/invoices/{y_invoice['id']}/pdf")
            pay_others = await x.post(f"/invoices/{y_invoice['id']}/pay")
            pay_without_token = await x.post(f"/invoices/{x_invoice['id']}/pay", csrf="-")
            own_pdf = await x.get(f"/invoices/{x_invoice['id']}/pdf")

        assert listed.status_code == 200
        assert x_invoice["number"] in listed.text
        assert "456.00" not in listed.text
        assert own.status_code == 200
        assert own_pdf.content.startswith(b"%PDF")
        assert_refused_page(others, 404)
        assert_refused_page(others_pdf, 404)
        assert_refused_page(pay_others, 404)
        assert_refused_page(pay_without_token, 403)
