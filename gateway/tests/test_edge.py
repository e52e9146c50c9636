"""The gateway's edge, attacker-style, in process: the gateway app (ASGI) in front of a real
HTTP server that records every request line exactly as it arrived (`upstream`).

Paths are sent as raw request targets through the ASGI scope, as a server hands them over:
an HTTP client would resolve dot segments and re-encode before anything reached the wire.
"""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI

from agencyos.gateway.app import build_app
from agencyos.gateway.routes import ROUTES
from agencyos.testing.http import assert_problem

from .conftest import Upstream
from .edge import ALLOWED_ORIGIN, AUTH_LIMIT, edge_settings, send_raw

# --- path canonicalisation ---------------------------------------------------------------------

# `{a}` is a route prefix, `{b}` what the attacker wants to reach from it.
TRAVERSALS = {
    "encoded slash": "{a}/x/..%2F{b}",
    "encoded slash lower case": "{a}/x/..%2f{b}",
    "encoded dots": "{a}/x/%2e%2e/{b}",
    "encoded dots upper case and slash": "{a}/x/%2E%2E%2F{b}",
    "dot then encoded dot": "{a}/x/.%2e/{b}",
    "encoded dot then dot": "{a}/x/%2e./{b}",
    "literal dot-dot": "{a}/x/../{b}",
    "literal dot": "{a}/./{b}",
    "trailing dot-dot": "{a}/x/{b}/..",
    "three dots": "{a}/.../{b}",
    "encoded backslash": "{a}/x/..%5C{b}",
    "literal backslash": "{a}/x/..\\{b}",
    "empty segment": "{a}//{b}",
    "double encoded": "{a}/x/%252e%252e%252f{b}",
    "overlong utf-8 dots": "{a}/x/%c0%ae%c0%ae/{b}",
    "fullwidth dots": "{a}/x/%ef%bc%8e%ef%bc%8e/{b}",
    "fullwidth solidus": "{a}/x/..%ef%bc%8f{b}",
    "nul": "{a}/{b}%00",
    "group separator": "{a}/{b}%1D",
    "encoded del": "{a}/{b}%7F",
    "raw del": "{a}/{b}\x7f",
    "encoded newline": "{a}/{b}%0a",
    "zero-width space": "{a}/{b}%e2%80%8b",
    "path parameter": "{a}/{b};x",
    # The gateway would read the path only up to these; the service would read all of it.
    "encoded question mark": "{a}/{b}%3F/x",
    "encoded hash": "{a}/{b}%23/x",
    "encoded path parameter": "{a}/{b}%3Bx",
    "malformed percent": "{a}/{b}%2",
    "invalid utf-8": "{a}/{b}%ff",
}
# (method, route prefix, what is aimed at, whether a valid token is sent)
TARGETS = {
    "public login": ("POST", "/v1/auth", "login", False),
    "authenticated read": ("GET", "/v1/clients", "readyz", True),
    "authenticated write": ("POST", "/v1/invoices", "metrics", True),
}


class TestNonCanonicalPaths:
    @pytest.mark.parametrize("target_name", TARGETS)
    @pytest.mark.parametrize("variant", TRAVERSALS)
    async def test_is_refused_with_400_and_never_forwarded(
        self, gateway_app: FastAPI, upstream: Upstream, token: str, variant: str, target_name: str
    ) -> None:
        method, prefix, aim, with_token = TARGETS[target_name]
        path = TRAVERSALS[variant].format(a=prefix, b=aim)
        headers = [("authorization", f"Bearer {token}")] if with_token else []

        response = await send_raw(gateway_app, method, path.encode("latin-1"), headers, b"{}")

        assert_problem(response, 400, "invalid-path")
        assert upstream.received == []

    @pytest.mark.parametrize("target", [b"//v1/auth/login", b"/v1/auth/login/", b"/v1/auth/login."])
    async def test_look_alikes_of_login_are_not_login(
        self, gateway_app: FastAPI, upstream: Upstream, target: bytes
    ) -> None:
        """Refused or treated as a protected path (401): never the public, rate-limited login
        route, and never forwarded to identity as /v1/auth/login."""
        response = await send_raw(gateway_app, "POST", target, body=b"{}")

        assert response.status_code in (400, 401, 404), response.text
        assert b"/v1/auth/login" not in upstream.targets

    async def test_a_control_character_in_a_segment_is_a_4xx_not_a_500(
        self, gateway_app: FastAPI, token: str
    ) -> None:
        response = await send_raw(
            gateway_app, "GET", b"/v1/clients/%1D", [("authorization", f"Bearer {token}")]
        )

        assert_problem(response, 400, "invalid-path")

    async def test_a_raw_character_outside_the_path_alphabet_is_refused(
        self, gateway_app: FastAPI
    ) -> None:
        response = await send_raw(gateway_app, "POST", b"/v1/auth/log\xc3\xa9n", body=b"{}")

        assert_problem(response, 400, "invalid-path")


class TestForwarding:
    @pytest.mark.parametrize(
        "target",
        [
            b"/v1/clients",
            b"/v1/clients/",
            b"/v1/clients/6f1c2a44-0000-4000-8000-000000000001",
            b"/v1/clients/caf%C3%A9",
            b"/v1/clients/a-b_c.d~e",
            b"/v1/clients/x!$&'()*+,=:@",
            b"/v1/clients/%41%42?q=..%2F..%2Fmetrics&sort=-name",
            b"/v1/clients/export?format=csv&q=caf%C3%A9",
        ],
    )
    async def test_the_service_receives_exactly_the_path_the_gateway_checked(
        self, gateway_app: FastAPI, upstream: Upstream, token: str, target: bytes
    ) -> None:
        response = await send_raw(
            gateway_app, "GET", target, [("authorization", f"Bearer {token}")]
        )

        assert response.status_code == 200, response.text
        assert upstream.targets == [target]

    async def test_a_public_route_is_forwarded_byte_for_byte(
        self, gateway_app: FastAPI, upstream: Upstream
    ) -> None:
        response = await send_raw(gateway_app, "POST", b"/v1/auth/login", body=b"{}")

        assert response.status_code == 200, response.text
        assert upstream.targets == [b"/v1/auth/login"]

    @pytest.mark.parametrize("method", ["GET", "POST"])
    async def test_the_unsubscribe_link_of_an_email_is_forwarded_without_a_token(
        self, gateway_app: FastAPI, upstream: Upstream, method: str
    ) -> None:
        target = b"/v1/notification-preferences/unsubscribe?token=abc.def"

        response = await send_raw(gateway_app, method, target)

        assert response.status_code == 200, response.text
        assert upstream.targets == [target]

    @pytest.mark.parametrize(
        ("method", "target"),
        [
            ("PUT", b"/v1/notification-preferences/unsubscribe?token=abc.def"),
            ("DELETE", b"/v1/notification-preferences/unsubscribe?token=abc.def"),
            ("GET", b"/v1/notification-preferences/unsubscribe/x?token=abc.def"),
            ("GET", b"/v1/notification-preferences"),
            ("PUT", b"/v1/notification-preferences/defaults/member"),
        ],
    )
    async def test_the_rest_of_notification_preferences_still_needs_a_token(
        self, gateway_app: FastAPI, upstream: Upstream, method: str, target: bytes
    ) -> None:
        response = await send_raw(gateway_app, method, target)

        assert_problem(response, 401, "unauthenticated")
        assert upstream.received == []


DOCUMENT = b"/v1/invoices/6f1c2a44-0000-4000-8000-000000000001/document"
DOCUMENT_QUERY = b"?tenant_id=6f1c2a44-0000-4000-8000-000000000002&expires=1&signature=ab"


class TestSignedInvoiceDocument:
    """An invoice's PDF through the signed link emailed to the client: the one invoice route
    open without a token (billing checks the signature), GET only, that exact path only."""

    async def test_the_signed_link_is_forwarded_without_a_token_query_and_all(
        self, gateway_app: FastAPI, upstream: Upstream
    ) -> None:
        response = await send_raw(gateway_app, "GET", DOCUMENT + DOCUMENT_QUERY)

        assert response.status_code == 200, response.text
        assert upstream.targets == [DOCUMENT + DOCUMENT_QUERY]

    @pytest.mark.parametrize(
        ("method", "target"),
        [
            ("POST", DOCUMENT),
            ("DELETE", DOCUMENT),
            ("GET", DOCUMENT + b"/x"),
            ("GET", DOCUMENT.replace(b"/document", b"/pdf")),
            ("GET", DOCUMENT.replace(b"/document", b"")),
            ("GET", b"/v1/invoices/document"),
            ("GET", b"/v1/invoices/a/b/document"),
        ],
    )
    async def test_nothing_else_under_invoices_is_open(
        self, gateway_app: FastAPI, upstream: Upstream, method: str, target: bytes
    ) -> None:
        response = await send_raw(gateway_app, method, target + DOCUMENT_QUERY, body=b"{}")

        assert response.status_code == 401, response.text
        assert upstream.received == []


# The links emailed to people (an invitation, a password reset), as a mail client follows them.
FOLLOWED_LINKS = [
    b"/v1/invitations/inv_secret.0123456789abcdef0123456789abcdef/accept",
    b"/v1/auth/password-reset/confirm?token=pr_secret",
    b"/v1/auth/magic-link/verify?token=ml_secret",
    # single sign-on: the browser's way to the provider and back
    b"/v1/auth/sso/northwind-studio/start",
    b"/v1/auth/sso/callback?code=abc&state=xyz",
]


class TestFollowedLinks:
    @pytest.mark.parametrize("target", FOLLOWED_LINKS)
    async def test_a_get_without_a_token_is_forwarded_under_the_auth_limit(
        self, gateway_app: FastAPI, upstream: Upstream, target: bytes
    ) -> None:
        response = await send_raw(gateway_app, "GET", target)

        assert response.status_code == 200, response.text
        assert upstream.targets == [target]
        assert response.headers["ratelimit-limit"] == str(AUTH_LIMIT)

    async def test_signing_in_with_an_emailed_link_needs_no_token(
        self, gateway_app: FastAPI, upstream: Upstream
    ) -> None:
        response = await send_raw(
            gateway_app, "POST", b"/v1/auth/magic-link/verify", body=b'{"token": "ml_secret"}'
        )

        assert response.status_code == 200, response.text
        assert upstream.targets == [b"/v1/auth/magic-link/verify"]
        assert response.headers["ratelimit-limit"] == str(AUTH_LIMIT)

    async def test_following_links_counts_against_the_same_per_ip_limit_as_logging_in(
        self, gateway_app: FastAPI, upstream: Upstream
    ) -> None:
        """A guessed token costs what a guessed password does; no email in a GET, so the
        limit is the caller's IP."""
        for n in range(AUTH_LIMIT - 1):
            followed = await send_raw(
                gateway_app, "GET", f"/v1/auth/password-reset/confirm?token=pr_{n}".encode()
            )
            assert followed.status_code == 200, followed.text
        await send_raw(gateway_app, "POST", b"/v1/auth/login", body=b"{}")

        refused = await send_raw(gateway_app, "GET", FOLLOWED_LINKS[0])

        assert_problem(refused, 429)
        assert len(upstream.received) == AUTH_LIMIT

    @pytest.mark.parametrize(
        ("method", "target"),
        [
            ("PUT", FOLLOWED_LINKS[0]),
            ("DELETE", FOLLOWED_LINKS[0]),
            ("PATCH", b"/v1/auth/password-reset/confirm"),
            ("GET", b"/v1/invitations/inv_secret.0123/accept/more"),
            ("GET", b"/v1/invitations"),
            ("GET", b"/v1/auth/login"),
            ("GET", b"/v1/auth/password-reset"),
            ("POST", b"/v1/auth/sso/callback"),
            ("GET", b"/v1/auth/sso/northwind/start/more"),
            ("GET", b"/v1/auth/sso/Northwind/start"),
            ("GET", b"/v1/auth/sso"),
            ("GET", b"/v1/agency/sso"),
        ],
    )
    async def test_other_methods_and_look_alike_paths_still_need_a_token(
        self, gateway_app: FastAPI, upstream: Upstream, method: str, target: bytes
    ) -> None:
        response = await send_raw(gateway_app, method, target)

        assert_problem(response, 401)
        assert upstream.received == []


INTERNAL = ["metrics", "readyz", "healthz", "openapi.json", "docs", "redoc", "Metrics"]


class TestInternalEndpoints:
    @pytest.mark.parametrize("prefix", sorted(ROUTES))
    async def test_no_service_endpoint_for_the_cluster_is_reachable_under_any_prefix(
        self, gateway_app: FastAPI, upstream: Upstream, token: str, prefix: str
    ) -> None:
        for name in INTERNAL:
            for target in (f"{prefix}/{name}", f"{prefix}/x/{name}"):
                response = await send_raw(
                    gateway_app, "GET", target.encode(), [("authorization", f"Bearer {token}")]
                )
                assert response.status_code in (400, 404), (target, response.text)

        assert upstream.received == []

    async def test_the_gateways_own_metrics_are_not_on_the_public_app(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.get("/metrics")

        assert_problem(response, 404)
        assert "agencyos_http_requests_total" not in response.text


# --- headers -----------------------------------------------------------------------------------


def assert_security_headers(response: httpx.Response) -> None:
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
    assert response.headers["referrer-policy"] == "no-referrer"
    assert "server" not in response.headers


class TestSecurityHeaders:
    async def test_on_a_proxied_answer_which_is_not_cached(
        self, client: httpx.AsyncClient, token: str
    ) -> None:
        response = await client.get("/v1/clients", headers={"Authorization": f"Bearer {token}"})

        assert response.status_code == 200
        assert_security_headers(response)
        assert response.headers["cache-control"] == "no-store"

    async def test_a_services_own_cache_control_is_kept(
        self, client: httpx.AsyncClient, upstream: Upstream, token: str
    ) -> None:
        upstream.answer_headers["cache-control"] = "private, max-age=60"

        response = await client.get("/v1/clients", headers={"Authorization": f"Bearer {token}"})

        assert response.headers["cache-control"] == "private, max-age=60"
        assert_security_headers(response)

    async def test_on_a_login_answer_carrying_tokens(self, client: httpx.AsyncClient) -> None:
        response = await client.post("/v1/auth/login", json={"email": "a@example.com"})

        assert response.status_code == 200
        assert_security_headers(response)
        assert response.headers["cache-control"] == "no-store"

    async def test_on_a_404(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v2/nothing")

        assert_problem(response, 404)
        assert_security_headers(response)

    async def test_on_a_401(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/v1/clients")

        assert_problem(response, 401)
        assert_security_headers(response)
        assert response.headers["cache-control"] == "no-store"

    async def test_on_a_429(self, client: httpx.AsyncClient) -> None:
        for _ in range(AUTH_LIMIT):
            await client.post("/v1/auth/login", json={"email": "a@example.com"})

        response = await client.post("/v1/auth/login", json={"email": "a@example.com"})

        assert_problem(response, 429)
        assert_security_headers(response)

    async def test_on_a_refused_path(self, gateway_app: FastAPI) -> None:
        response = await send_raw(gateway_app, "GET", b"/v1/clients/..%2F..%2Fmetrics")

        assert_problem(response, 400)
        assert_security_headers(response)

    async def test_on_the_gateways_own_docs(self, client: httpx.AsyncClient) -> None:
        response = await client.get("/docs")

        assert response.status_code == 200
        assert_security_headers(response)


# --- Authorization -----------------------------------------------------------------------------


class TestAuthorizationHeader:
    @pytest.mark.parametrize(
        ("method", "path"), [("GET", "/v1/clients"), ("POST", "/v1/auth/login")]
    )
    async def test_two_authorization_headers_are_a_400(
        self, client: httpx.AsyncClient, upstream: Upstream, token: str, method: str, path: str
    ) -> None:
        response = await client.request(
            method,
            path,
            headers=[("Authorization", f"Bearer {token}"), ("Authorization", "Bearer other")],
            content=b"{}",
        )

        assert_problem(response, 400, "bad-request")
        assert upstream.received == []

    @pytest.mark.parametrize("header", ["Basic dXNlcjpwYXNz", "Token abc", "Bearer", "bearer  "])
    async def test_a_non_bearer_scheme_is_a_401(
        self, client: httpx.AsyncClient, upstream: Upstream, header: str
    ) -> None:
        response = await client.get("/v1/clients", headers={"Authorization": header})

        assert_problem(response, 401, "unauthenticated")
        assert upstream.received == []


# --- CORS --------------------------------------------------------------------------------------


def preflight(origin: str, method: str = "POST", headers: str = "") -> dict[str, str]:
    request = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        request["Access-Control-Request-Headers"] = headers
    return request


class TestCors:
    async def test_a_preflight_from_a_listed_origin_is_allowed_and_cached(
        self, client: httpx.AsyncClient, upstream: Upstream
    ) -> None:
        response = await client.options(
            "/v1/invoices/1",
            headers=preflight(
                ALLOWED_ORIGIN, "PATCH", "Authorization, Content-Type, Idempotency-Key, If-Match"
            ),
        )

        assert response.status_code == 204, response.text
        assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert response.headers["access-control-allow-credentials"] == "true"
        assert int(response.headers["access-control-max-age"]) > 0
        methods = {m.strip() for m in response.headers["access-control-allow-methods"].split(",")}
        assert {"GET", "POST", "PUT", "PATCH", "DELETE"} <= methods
        allowed = response.headers["access-control-allow-headers"].lower()
        assert {"authorization", "content-type", "idempotency-key", "if-match"} <= {
            h.strip() for h in allowed.split(",")
        }
        assert "Origin" in response.headers["vary"]
        assert_security_headers(response)
        assert upstream.received == []

    async def test_a_preflight_from_another_origin_is_refused_without_cors_headers(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.options("/v1/clients", headers=preflight("https://evil.example"))

        assert_problem(response, 403)
        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-credentials" not in response.headers

    async def test_a_preflight_asking_for_an_unlisted_header_is_refused(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.options(
            "/v1/clients", headers=preflight(ALLOWED_ORIGIN, "POST", "x-evil")
        )

        assert_problem(response, 403)
        assert "access-control-allow-origin" not in response.headers

    async def test_preflights_need_no_token_and_do_not_count_against_the_login_limit(
        self, client: httpx.AsyncClient
    ) -> None:
        for _ in range(AUTH_LIMIT * 3):
            answered = await client.options(
                "/v1/auth/login", headers=preflight(ALLOWED_ORIGIN, "POST", "content-type")
            )
            assert answered.status_code == 204
            assert "ratelimit-remaining" not in answered.headers

        for _ in range(AUTH_LIMIT):
            login = await client.post("/v1/auth/login", json={}, headers={"Origin": ALLOWED_ORIGIN})
            assert login.status_code == 200, login.text

    async def test_an_answer_to_a_listed_origin_is_readable_and_exposes_the_limit_headers(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post("/v1/auth/login", json={}, headers={"Origin": ALLOWED_ORIGIN})

        assert response.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert response.headers["access-control-allow-credentials"] == "true"
        exposed = response.headers["access-control-expose-headers"].lower()
        assert {"x-request-id", "retry-after", "ratelimit-remaining"} <= set(exposed.split(", "))

    async def test_an_answer_to_another_origin_carries_no_cors_headers(
        self, client: httpx.AsyncClient
    ) -> None:
        response = await client.post(
            "/v1/auth/login", json={}, headers={"Origin": "https://evil.example"}
        )

        assert "access-control-allow-origin" not in response.headers
        assert "access-control-allow-credentials" not in response.headers

    async def test_any_origin_is_allowed_with_a_wildcard_but_never_with_credentials(
        self, upstream: Upstream, jwks_url: str
    ) -> None:
        settings = edge_settings(upstream, jwks_url, cors_origins=["*", ALLOWED_ORIGIN])
        app = build_app(settings)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway"
            ) as http,
        ):
            anyone = await http.options("/v1/clients", headers=preflight("https://elsewhere.io"))
            listed = await http.options("/v1/clients", headers=preflight(ALLOWED_ORIGIN))

        assert anyone.status_code == 204
        assert anyone.headers["access-control-allow-origin"] == "*"
        assert "access-control-allow-credentials" not in anyone.headers
        assert listed.headers["access-control-allow-origin"] == ALLOWED_ORIGIN
        assert listed.headers["access-control-allow-credentials"] == "true"

    async def test_with_no_origins_configured_a_preflight_is_refused_not_a_405(
        self, upstream: Upstream, jwks_url: str
    ) -> None:
        app = build_app(edge_settings(upstream, jwks_url, cors_origins=[]))
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://gateway"
            ) as http,
        ):
            response = await http.options("/v1/clients", headers=preflight(ALLOWED_ORIGIN))

        assert_problem(response, 403)
        assert "access-control-allow-origin" not in response.headers


class TestHeaderValues:
    @pytest.mark.parametrize(
        ("name", "value"),
        [("if-match", "²"), ("x-note", "café"), ("idempotency-key", "ключ")],
    )
    async def test_a_header_value_outside_ascii_is_forwarded_or_refused_never_a_500(
        self, gateway_app: FastAPI, upstream: Upstream, token: str, name: str, value: str
    ) -> None:
        response = await send_raw(
            gateway_app,
            "GET",
            b"/v1/clients",
            headers=[("authorization", f"Bearer {token}"), (name, value)],
        )

        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert_problem(response, 400, "bad-request")
            assert upstream.received == []
