"""The agency's IP allowlist at the edge, in process (the gateway app in front of a recording
upstream, tokens from the test keys): a token carrying `ipal` is refused from an address
outside it (403 `address-not-allowed`, never forwarded), the address being the client's as
the trusted proxies say (a client cannot choose it); a token without `ipal` goes anywhere.
Email verification's link and POST need no token; its resend does."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from agencyos.gateway.app import build_app
from agencyos.testing.http import assert_problem
from agencyos.testing.keys import TestKeys

from .conftest import Upstream
from .edge import edge_settings

OFFICE = "203.0.113.0/24"
PROXY = "10.0.0.5"


async def serve(app: FastAPI, peer: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=app, client=(peer, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://gateway")


@pytest.fixture
async def gateway_app(upstream: Upstream, jwks_url: str) -> AsyncIterator[FastAPI]:
    app = build_app(edge_settings(upstream, jwks_url, trusted_proxies=[f"{PROXY}/32"]))
    async with app.router.lifespan_context(app):
        yield app


def bearer(token: str, **headers: str) -> dict[str, Any]:
    return {"Authorization": f"Bearer {token}", **headers}


class TestIpAllowlist:
    @pytest.mark.parametrize(
        ("peer", "forwarded_for"),
        [("203.0.113.9", None), (PROXY, "203.0.113.200"), (PROXY, "192.0.2.1, 203.0.113.9")],
        ids=["direct", "behind-the-proxy", "spoofed-left-entry-ignored"],
    )
    async def test_a_request_from_inside_is_forwarded(
        self,
        gateway_app: FastAPI,
        upstream: Upstream,
        test_keys: TestKeys,
        peer: str,
        forwarded_for: str | None,
    ) -> None:
        token = test_keys.mint(ipal=[OFFICE])
        headers = bearer(token, **({"X-Forwarded-For": forwarded_for} if forwarded_for else {}))
        async with await serve(gateway_app, peer) as client:
            response = await client.get("/v1/clients", headers=headers)

        assert response.status_code == 200, response.text
        assert upstream.targets == [b"/v1/clients"]

    @pytest.mark.parametrize(
        ("peer", "forwarded_for"),
        [
            ("198.51.100.7", None),
            (PROXY, "198.51.100.7"),
            # an untrusted peer naming an address inside is not believed
            ("198.51.100.7", "203.0.113.9"),
            # nor is an entry left of the one the trusted proxy appended
            (PROXY, "203.0.113.9, 198.51.100.7"),
            (PROXY, "not-an-address"),
        ],
        ids=["direct", "behind-the-proxy", "spoofed-header", "spoofed-left-entry", "garbage"],
    )
    async def test_a_request_from_outside_is_403_and_never_forwarded(
        self,
        gateway_app: FastAPI,
        upstream: Upstream,
        test_keys: TestKeys,
        peer: str,
        forwarded_for: str | None,
    ) -> None:
        token = test_keys.mint(ipal=[OFFICE])
        headers = bearer(token, **({"X-Forwarded-For": forwarded_for} if forwarded_for else {}))
        async with await serve(gateway_app, peer) as client:
            response = await client.post("/v1/invoices", json={}, headers=headers)

        body = assert_problem(response, 403, "address-not-allowed")
        assert "allowlist" in body["detail"]
        assert upstream.received == []

    async def test_a_token_without_an_allowlist_goes_from_anywhere(
        self, gateway_app: FastAPI, upstream: Upstream, test_keys: TestKeys
    ) -> None:
        async with await serve(gateway_app, "198.51.100.7") as client:
            response = await client.get("/v1/clients", headers=bearer(test_keys.mint()))

        assert response.status_code == 200

    async def test_ipv6_networks_are_matched(
        self, gateway_app: FastAPI, test_keys: TestKeys
    ) -> None:
        token = test_keys.mint(ipal=["2001:db8:1::/48"])
        async with await serve(gateway_app, "2001:db8:1::42") as inside:
            assert (await inside.get("/v1/clients", headers=bearer(token))).status_code == 200
        async with await serve(gateway_app, "2001:db8:2::42") as outside:
            assert_problem(await outside.get("/v1/clients", headers=bearer(token)), 403)


class TestVerifyEmailRoutes:
    async def test_the_emailed_link_and_the_post_need_no_token(
        self, gateway_app: FastAPI, upstream: Upstream
    ) -> None:
        async with await serve(gateway_app, "198.51.100.7") as client:
            link = await client.get("/v1/auth/verify-email?token=ev_abc")
            post = await client.post("/v1/auth/verify-email", json={"token": "ev_abc"})

        assert (link.status_code, post.status_code) == (200, 200)
        assert upstream.targets == [b"/v1/auth/verify-email?token=ev_abc", b"/v1/auth/verify-email"]

    async def test_the_resend_needs_a_token(self, gateway_app: FastAPI, upstream: Upstream) -> None:
        async with await serve(gateway_app, "198.51.100.7") as client:
            response = await client.post("/v1/auth/verify-email/resend")

        assert_problem(response, 401, "unauthenticated")
        assert upstream.received == []
