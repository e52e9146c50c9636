"""The gateway's edge and what a token may reach: tokens restricted to two-factor enrollment,
and the client address the gateway tells the services. In process, in front of `upstream`."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from agencyos.gateway.app import build_app
from agencyos.testing.http import assert_problem
from agencyos.testing.keys import TestKeys

from .conftest import Upstream
from .edge import edge_settings, send_raw


class TestRestrictedTokens:
    """A token restricted to two-factor enrollment (`restricted: "2fa_enrollment"`) reaches
    only enrolling, confirming, `GET /v1/me` and logging out; anything else is a 403 here,
    never forwarded. The second step of a two-factor sign-in takes no token at all."""

    @pytest.mark.parametrize(
        ("method", "target"),
        [
            ("POST", b"/v1/auth/2fa/enroll"),
            ("POST", b"/v1/auth/2fa/confirm"),
            ("GET", b"/v1/me"),
            ("POST", b"/v1/auth/logout"),
        ],
    )
    async def test_the_enrollment_routes_are_forwarded(
        self,
        gateway_app: FastAPI,
        upstream: Upstream,
        test_keys: TestKeys,
        method: str,
        target: bytes,
    ) -> None:
        token = test_keys.mint(restricted="2fa_enrollment")

        response = await send_raw(
            gateway_app, method, target, [("authorization", f"Bearer {token}")]
        )

        assert response.status_code == 200, response.text
        assert upstream.targets == [target]

    @pytest.mark.parametrize(
        ("method", "target"),
        [
            ("GET", b"/v1/clients"),
            ("POST", b"/v1/invoices"),
            ("GET", b"/v1/members"),
            ("POST", b"/v1/auth/2fa/disable"),
            ("POST", b"/v1/auth/switch"),
            ("POST", b"/v1/api-keys"),
            ("PUT", b"/v1/agency/security/two-factor"),
            ("GET", b"/v1/me/x"),
            ("GET", b"/v1/auth/2fa/enroll"),
        ],
    )
    async def test_everything_else_is_403_naming_the_enroll_route_and_not_forwarded(
        self,
        gateway_app: FastAPI,
        upstream: Upstream,
        test_keys: TestKeys,
        method: str,
        target: bytes,
    ) -> None:
        token = test_keys.mint(restricted="2fa_enrollment")

        response = await send_raw(
            gateway_app, method, target, [("authorization", f"Bearer {token}")]
        )

        problem = assert_problem(response, 403, "two-factor-enrollment-required")
        assert problem["enroll"] == "/v1/auth/2fa/enroll"
        assert "/v1/auth/2fa/enroll" in problem["detail"]
        assert upstream.received == []

    async def test_an_unknown_restriction_reaches_nothing(
        self, gateway_app: FastAPI, upstream: Upstream, test_keys: TestKeys
    ) -> None:
        token = test_keys.mint(restricted="something_new")

        response = await send_raw(
            gateway_app, "GET", b"/v1/me", [("authorization", f"Bearer {token}")]
        )

        assert_problem(response, 403, "permission-denied")
        assert upstream.received == []

    async def test_the_second_step_of_a_two_factor_sign_in_needs_no_token(
        self, gateway_app: FastAPI, upstream: Upstream
    ) -> None:
        response = await send_raw(gateway_app, "POST", b"/v1/auth/2fa/verify", body=b"{}")

        assert response.status_code == 200, response.text
        assert upstream.targets == [b"/v1/auth/2fa/verify"]

    @pytest.mark.parametrize(
        ("method", "target"),
        [("GET", b"/v1/auth/2fa/verify"), ("POST", b"/v1/auth/2fa/enroll")],
    )
    async def test_the_other_two_factor_routes_need_a_token(
        self, gateway_app: FastAPI, upstream: Upstream, method: str, target: bytes
    ) -> None:
        response = await send_raw(gateway_app, method, target)

        assert_problem(response, 401, "unauthenticated")
        assert upstream.received == []


class TestClientAddress:
    """The gateway tells the services who the client is (`x-agencyos-client-ip`): its own
    answer, never what the caller sent under that name."""

    @staticmethod
    def client_ip_headers(upstream: Upstream) -> list[str]:
        return [v for k, v in upstream.received[-1].headers if k == "x-agencyos-client-ip"]

    async def test_the_socket_peer_is_sent_on(
        self, client: httpx.AsyncClient, upstream: Upstream, token: str
    ) -> None:
        response = await client.get("/v1/clients", headers={"Authorization": f"Bearer {token}"})

        assert response.status_code == 200, response.text
        assert self.client_ip_headers(upstream) == ["198.51.100.7"]

    @pytest.mark.parametrize("route", ["/v1/clients", "/v1/auth/login"])
    async def test_a_forged_header_is_replaced_not_forwarded(
        self, client: httpx.AsyncClient, upstream: Upstream, token: str, route: str
    ) -> None:
        headers = {
            "Authorization": f"Bearer {token}",
            "X-AgencyOS-Client-IP": "10.9.8.7",
            "X-Forwarded-For": "10.9.8.7",
        }
        if route.startswith("/v1/auth"):
            response = await client.post(route, headers=headers, json={})
        else:
            response = await client.get(route, headers=headers)

        assert response.status_code == 200, response.text
        # the peer is no trusted proxy: neither header moves the client's address
        assert self.client_ip_headers(upstream) == ["198.51.100.7"]

    async def test_behind_a_trusted_proxy_the_forwarded_address_is_the_clients(
        self, upstream: Upstream, jwks_url: str, token: str
    ) -> None:
        app = build_app(edge_settings(upstream, jwks_url, trusted_proxies=["198.51.100.0/24"]))
        transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 40000))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://gateway") as http,
        ):
            response = await http.get(
                "/v1/clients",
                headers={
                    "Authorization": f"Bearer {token}",
                    "X-Forwarded-For": "203.0.113.50",
                    "X-AgencyOS-Client-IP": "10.9.8.7",
                },
            )

        assert response.status_code == 200, response.text
        assert self.client_ip_headers(upstream) == ["203.0.113.50"]
