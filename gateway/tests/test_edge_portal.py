"""The client portal's web pages at the gateway's edge, in process (the gateway app in front
of the recording `upstream`): forwarded to the portal without a token, cookies relayed to the
browser and never kept by the gateway, a page's own security policy kept."""

from __future__ import annotations

import pytest
from fastapi import FastAPI

from agencyos.gateway.ratelimit import account_of
from agencyos.gateway.routes import is_public, resolve
from agencyos.testing.http import assert_problem

from .conftest import Upstream
from .edge import AUTH_LIMIT, send_raw


class TestPortalPagesRouting:
    @pytest.mark.parametrize(
        "path", ["/portal/acme/", "/portal/acme/sign-in", "/portal/_static/portal.css"]
    )
    def test_portal_pages_belong_to_the_portal(self, path: str) -> None:
        route = resolve(path)

        assert route is not None
        assert route.service == "portal"

    @pytest.mark.parametrize("method", ["GET", "HEAD", "POST"])
    def test_portal_pages_need_no_token(self, method: str) -> None:
        assert is_public(method, "/portal/acme/projects/x")

    @pytest.mark.parametrize("method", ["PUT", "PATCH", "DELETE"])
    def test_other_methods_on_portal_pages_still_need_one(self, method: str) -> None:
        assert not is_public(method, "/portal/acme/")

    def test_the_portal_api_still_needs_a_token(self) -> None:
        assert not is_public("GET", "/v1/portal/projects")
        assert not is_public("GET", "/portalx/acme/")

    @pytest.mark.parametrize("method", ["GET", "POST"])
    async def test_a_page_is_forwarded_without_a_token(
        self, gateway_app: FastAPI, upstream: Upstream, method: str
    ) -> None:
        response = await send_raw(gateway_app, method, b"/portal/acme/sign-in")

        assert response.status_code == 200, response.text
        assert upstream.targets == [b"/portal/acme/sign-in"]

    async def test_a_put_on_a_page_is_refused_without_a_token(
        self, gateway_app: FastAPI, upstream: Upstream
    ) -> None:
        response = await send_raw(gateway_app, "PUT", b"/portal/acme/sign-in")

        assert_problem(response, 401)
        assert upstream.targets == []


class TestCookies:
    async def test_a_services_cookie_reaches_the_caller_and_never_anyone_else(
        self, gateway_app: FastAPI, upstream: Upstream
    ) -> None:
        upstream.answer_headers["set-cookie"] = "agencyos_portal=alices; Path=/portal/acme/"
        alice = await send_raw(gateway_app, "GET", b"/portal/acme/sign-in")
        del upstream.answer_headers["set-cookie"]

        bob = await send_raw(gateway_app, "GET", b"/portal/acme/")

        assert alice.headers["set-cookie"].startswith("agencyos_portal=alices")
        assert "set-cookie" not in bob.headers
        sent_for_bob = dict(upstream.received[1].headers)
        assert "cookie" not in sent_for_bob

    async def test_the_callers_own_cookie_is_sent_on(
        self, gateway_app: FastAPI, upstream: Upstream
    ) -> None:
        await send_raw(gateway_app, "GET", b"/portal/acme/", [("cookie", "agencyos_portal=v")])

        assert dict(upstream.received[0].headers)["cookie"] == "agencyos_portal=v"


class TestPagePolicies:
    async def test_a_services_own_content_security_policy_and_referrer_policy_are_kept(
        self, gateway_app: FastAPI, upstream: Upstream
    ) -> None:
        policy = "default-src 'none'; script-src 'self'; frame-ancestors 'none'"
        upstream.answer_headers["content-security-policy"] = policy
        upstream.answer_headers["referrer-policy"] = "same-origin"

        response = await send_raw(gateway_app, "GET", b"/portal/acme/")

        assert response.headers["content-security-policy"] == policy
        assert response.headers["referrer-policy"] == "same-origin"
        assert response.headers["x-frame-options"] == "DENY"

    async def test_a_policy_that_forgets_framing_gets_frame_ancestors_none(
        self, gateway_app: FastAPI, upstream: Upstream
    ) -> None:
        upstream.answer_headers["content-security-policy"] = "default-src 'self'"

        response = await send_raw(gateway_app, "GET", b"/portal/acme/")

        assert response.headers["content-security-policy"] == (
            "default-src 'self'; frame-ancestors 'none'"
        )

    async def test_without_a_policy_of_its_own_an_answer_gets_the_gateways(
        self, gateway_app: FastAPI, upstream: Upstream
    ) -> None:
        response = await send_raw(gateway_app, "GET", b"/portal/acme/")

        assert response.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert response.headers["referrer-policy"] == "no-referrer"


class TestSignInLimit:
    @pytest.mark.parametrize("path", [b"/portal/acme/sign-in", b"/portal/acme/sign-in/link"])
    async def test_the_sign_in_forms_count_against_the_auth_limit(
        self, gateway_app: FastAPI, upstream: Upstream, path: bytes
    ) -> None:
        for n in range(AUTH_LIMIT):
            sent = await send_raw(
                gateway_app, "POST", path, body=f"email=someone{n}%40example.com".encode()
            )
            assert sent.status_code == 200, sent.text
            assert sent.headers["ratelimit-limit"] == str(AUTH_LIMIT)

        refused = await send_raw(gateway_app, "POST", path, body=b"email=late%40example.com")

        assert_problem(refused, 429)
        assert len(upstream.received) == AUTH_LIMIT

    @pytest.mark.parametrize(
        ("body", "account"),
        [
            (b"email=Ada%40Example.com&csrf_token=x", "ada@example.com"),
            (b"csrf_token=x&email=+ada%40example.com+", "ada@example.com"),
            (b"csrf_token=x&token=ml_abc", None),
            (b"\xff\xfe", None),
        ],
    )
    def test_the_forms_email_field_is_the_account_counted(
        self, body: bytes, account: str | None
    ) -> None:
        assert account_of("/portal/acme/sign-in", body) == account

    async def test_the_pages_themselves_are_not_counted(
        self, gateway_app: FastAPI, upstream: Upstream
    ) -> None:
        for _ in range(AUTH_LIMIT + 2):
            page = await send_raw(gateway_app, "GET", b"/portal/acme/sign-in")
            assert page.status_code == 200, page.text
            assert "ratelimit-limit" not in page.headers
