"""The gateway's edge end to end: the running gateway process in front of the real services.
Requests go out as raw bytes on a socket (or as an `httpx.URL` whose raw path httpx keeps), so
what the gateway receives is exactly what an attacker sends."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agencyos.testing.factories import PASSWORD, AgencySession, signup_agency
from agencyos.testing.http import assert_problem
from agencyos.testing.platform import Platform

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}


async def raw_exchange(base_url: str, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send `request` verbatim; the status, headers (lower-cased names) and body answered."""
    parts = urlsplit(base_url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    try:
        writer.write(request)
        await writer.drain()
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, *lines = head.decode("latin-1").split("\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in lines if line)
        }
        body = await reader.readexactly(int(headers.get("content-length", "0")))
    finally:
        writer.close()
    return int(status_line.split(" ")[1]), headers, body


def raw_url(base_url: str, raw_path: bytes) -> httpx.URL:
    """A URL whose path httpx sends as is (a string URL would have its dots resolved)."""
    return httpx.URL(base_url).copy_with(raw_path=raw_path)


async def identity_logins(platform: Platform) -> float:
    """How many POST /v1/auth/login requests identity has answered (its own /metrics)."""
    async with httpx.AsyncClient(base_url=platform.url("identity")) as client:
        text = (await client.get("/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "agencyos_http_requests_total"
        and sample.labels.get("route") == "/v1/auth/login"
        and sample.labels.get("method") == "POST"
    )


class TestTraversalToLogin:
    async def test_forty_wrong_passwords_through_an_encoded_traversal_never_reach_identity(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        victim = await signup_agency(gateway)
        before = await identity_logins(platform)

        answers = [
            await gateway.post(
                raw_url(platform.gateway_url, b"/v1/auth/x/..%2Flogin"),
                json={"email": victim.email, "password": f"wrong-{n}"},
                headers=agency.headers,
            )
            for n in range(40)
        ]

        for answer in answers:
            assert_problem(answer, 400, "invalid-path")
        assert await identity_logins(platform) == before
        # The victim's account saw none of it.
        login = await gateway.post(
            "/v1/auth/login", json={"email": victim.email, "password": PASSWORD}
        )
        assert login.status_code == 200, login.text

    @pytest.mark.parametrize(
        "target",
        [
            b"/v1/auth/x/../login",
            b"/v1/./auth/login",
            b"/v1/auth/x/..\\login",
            b"/v1/auth/x/.%2e/login",
            b"//v1/auth/login",
            b"/v1/auth/login;x",
        ],
    )
    async def test_a_raw_traversal_on_the_wire_is_refused(
        self, platform: Platform, target: bytes
    ) -> None:
        before = await identity_logins(platform)
        body = b'{"email": "someone@example.com", "password": "x"}'
        request = (
            b"POST " + target + b" HTTP/1.1\r\nHost: gateway\r\nContent-Type: application/json\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body
        )

        status, _, answer = await raw_exchange(platform.gateway_url, request)

        assert status == 400, answer
        assert await identity_logins(platform) == before


class TestInternalEndpoints:
    @pytest.mark.parametrize("service_prefix", ["/v1/clients", "/v1/auth", "/v1/invoices"])
    @pytest.mark.parametrize("endpoint", ["metrics", "readyz", "healthz", "openapi.json", "docs"])
    @pytest.mark.parametrize(
        "traversal", ["/..%2F..%2F", "/%2e%2e/%2e%2e/", "/x/../../../", "/..%5C..%5C"]
    )
    async def test_a_services_internal_endpoint_is_not_reachable_through_the_gateway(
        self,
        platform: Platform,
        agency: AgencySession,
        service_prefix: str,
        endpoint: str,
        traversal: str,
    ) -> None:
        target = f"{service_prefix}{traversal}{endpoint}".encode()
        request = (
            b"GET " + target + b" HTTP/1.1\r\nHost: gateway\r\n"
            b"Authorization: " + agency.headers["Authorization"].encode() + b"\r\n"
            b"Connection: close\r\n\r\n"
        )

        status, _, body = await raw_exchange(platform.gateway_url, request)

        assert status in (400, 404), body
        assert b"agencyos_http_requests_total" not in body
        assert b'"checks"' not in body
        assert b'"openapi"' not in body

    async def test_a_control_character_in_a_segment_is_a_4xx(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.get(
            raw_url(platform.gateway_url, b"/v1/clients/%1D"), headers=agency.headers
        )

        assert_problem(response, 400, "invalid-path")


class TestHeadersOnTheWire:
    async def test_a_proxied_answer_carries_the_security_headers_and_no_server(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.get("/v1/clients", headers=agency.headers)

        assert response.status_code == 200, response.text
        for name, value in SECURITY_HEADERS.items():
            assert response.headers[name] == value
        assert response.headers["cache-control"] == "no-store"
        assert "server" not in response.headers

    async def test_a_login_answer_with_tokens_is_not_cacheable(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
            "/v1/auth/login", json={"email": agency.email, "password": PASSWORD}
        )

        assert response.status_code == 200, response.text
        assert response.headers["cache-control"] == "no-store"

    async def test_no_process_names_its_server_software(self, platform: Platform) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            for name in platform.processes:
                response = await client.get(f"{platform.url(name)}/healthz")
                assert "server" not in response.headers, name
            metrics = await client.get(f"{platform.gateway_metrics_url}/metrics")
            assert "server" not in metrics.headers

    async def test_two_authorization_headers_are_a_400(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.get(
            "/v1/clients",
            headers=[
                ("Authorization", agency.headers["Authorization"]),
                ("Authorization", f"Bearer {uuid.uuid4().hex}"),
            ],
        )

        assert_problem(response, 400, "bad-request")
