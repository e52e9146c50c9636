"""The gateway in front of the running platform: who gets in, what is public, request ids,
body limits, the merged OpenAPI, readiness and metrics.

Forged tokens are signed with identity's real private key, read from identity's
`signing_keys` table in the test database (legitimate test access to real data): only then
does a rejection prove that the claim checks work, not merely that the signature check does.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from prometheus_client.parser import text_string_to_metric_families

from agencyos.testing.factories import PASSWORD, AgencySession, invite
from agencyos.testing.http import assert_problem
from agencyos.testing.platform import Platform

PROTECTED = "/v1/clients"
MAX_BODY_BYTES = 10 * 1024 * 1024


def b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def compact(header: dict[str, Any], claims: dict[str, Any], signature: bytes = b"") -> str:
    signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(json.dumps(claims).encode())}"
    return f"{signing_input}.{b64url(signature)}"


@dataclass
class Forger:
    """Mints tokens for a real agency and user: with identity's own signing key (`kid`
    published in its JWKS) or with keys and algorithms an attacker would try."""

    kid: str
    private_key: RSAKey
    public_pem: bytes
    agency: AgencySession

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": "agencyos",
            "aud": "agencyos-api",
            "sub": str(self.agency.user_id),
            "tid": str(self.agency.agency_id),
            "role": "owner",
            "iat": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def signed(self, key: RSAKey | None = None, kid: str | None = None, **claims: Any) -> str:
        header = {"alg": "RS256", "kid": kid or self.kid, "typ": "JWT"}
        return jwt.encode(header, self.claims(**claims), key or self.private_key)

    def tampered(self, **claims: Any) -> str:
        """A genuine token whose claims were swapped after signing."""
        header, _, signature = self.signed().split(".")
        return f"{header}.{b64url(json.dumps(self.claims(**claims)).encode())}.{signature}"

    def unsigned(self) -> str:
        return compact({"alg": "none", "kid": self.kid, "typ": "JWT"}, self.claims())

    def hs256_with_public_pem(self) -> str:
        header = {"alg": "HS256", "kid": self.kid, "typ": "JWT"}
        unsigned = compact(header, self.claims()).rsplit(".", 1)[0]
        mac = hmac.new(self.public_pem, unsigned.encode(), hashlib.sha256).digest()
        return f"{unsigned}.{b64url(mac)}"


@pytest.fixture
async def forger(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Forger:
    published = (await gateway.get("/.well-known/jwks.json")).json()["keys"]
    kid, private = await platform.signing_key({k["kid"] for k in published})
    public = RSAKey.import_key(next(k for k in published if k["kid"] == kid))
    return Forger(kid, private, public.as_pem(private=False), agency)


@pytest.fixture
async def gateway_metrics(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    """The gateway's metrics port (never its public one)."""
    async with httpx.AsyncClient(base_url=platform.gateway_metrics_url, timeout=30.0) as client:
        yield client


@pytest.fixture
async def crm(platform: Platform) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=platform.url("crm"), timeout=30.0) as client:
        yield client


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def assert_rejected(response: httpx.Response) -> None:
    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"].startswith("Bearer")


async def counter(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    """The sum of a Prometheus counter's samples matching `labels` on `client`'s /metrics."""
    response = await client.get("/metrics")
    assert response.status_code == 200
    total = 0.0
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                total += sample.value
    return total


async def label_values(client: httpx.AsyncClient, name: str, label: str) -> set[str]:
    response = await client.get("/metrics")
    return {
        sample.labels[label]
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name and label in sample.labels
    }


FORGERIES: dict[str, Callable[[Forger], str]] = {
    "alg-none": lambda f: f.unsigned(),
    "hs256-signed-with-the-public-pem": lambda f: f.hs256_with_public_pem(),
    "unknown-kid": lambda f: f.signed(
        key=RSAKey.generate_key(2048), kid=f"attacker-{uuid.uuid4().hex[:8]}"
    ),
    "published-kid-but-another-key": lambda f: f.signed(key=RSAKey.generate_key(2048)),
    "expired": lambda f: f.signed(iat=int(time.time()) - 7200, exp=int(time.time()) - 3600),
    "wrong-audience": lambda f: f.signed(aud="someone-else"),
    "wrong-issuer": lambda f: f.signed(iss="https://evil.example"),
    "no-expiry": lambda f: f.signed(exp=None),
    "no-tenant": lambda f: f.signed(tid=None),
    "unknown-role": lambda f: f.signed(role="superuser"),
    "tampered-claims": lambda f: f.tampered(tid=str(uuid.uuid4())),
}


class TestRejections:
    async def test_no_token_is_rejected(self, gateway: httpx.AsyncClient) -> None:
        assert_rejected(await gateway.get(PROTECTED))

    @pytest.mark.parametrize(
        "authorization",
        ["Bearer garbage", "Bearer", "Bearer a.b.c", "Basic dXNlcjpwYXNz", "garbage"],
    )
    async def test_a_malformed_authorization_header_is_rejected(
        self, gateway: httpx.AsyncClient, authorization: str
    ) -> None:
        assert_rejected(await gateway.get(PROTECTED, headers={"Authorization": authorization}))

    @pytest.mark.parametrize("forgery", sorted(FORGERIES))
    async def test_a_forged_token_is_rejected(
        self, gateway: httpx.AsyncClient, forger: Forger, forgery: str
    ) -> None:
        token = FORGERIES[forgery](forger)

        assert_rejected(await gateway.get(PROTECTED, headers=bearer(token)))

    async def test_a_token_minted_the_same_way_with_valid_claims_is_accepted(
        self, gateway: httpx.AsyncClient, forger: Forger
    ) -> None:
        """The control for the forgeries: the minting itself is sound."""
        response = await gateway.get(PROTECTED, headers=bearer(forger.signed()))

        assert response.status_code == 200, response.text

    async def test_a_token_within_the_clock_skew_leeway_is_accepted(
        self, gateway: httpx.AsyncClient, forger: Forger
    ) -> None:
        now = int(time.time())

        response = await gateway.get(
            PROTECTED, headers=bearer(forger.signed(iat=now - 600, exp=now - 5))
        )

        assert response.status_code == 200, response.text

    async def test_a_rejected_request_never_reaches_the_service(
        self, gateway: httpx.AsyncClient, crm: httpx.AsyncClient, forger: Forger
    ) -> None:
        labels = {"service": "crm", "route": "/v1/clients", "method": "GET"}
        before = await counter(crm, "agencyos_http_requests_total", **labels)

        rejected = await gateway.get(PROTECTED, headers=bearer(forger.signed(aud="other")))
        after_rejection = await counter(crm, "agencyos_http_requests_total", **labels)
        accepted = await gateway.get(PROTECTED, headers=bearer(forger.signed()))
        after_acceptance = await counter(crm, "agencyos_http_requests_total", **labels)

        assert (rejected.status_code, accepted.status_code) == (401, 200)
        assert after_rejection == before
        assert after_acceptance == before + 1


class TestPublicRoutes:
    async def test_signup_needs_no_token(self, gateway: httpx.AsyncClient) -> None:
        tag = uuid.uuid4().hex[:8]

        response = await gateway.post(
            "/v1/auth/signup",
            json={
                "agency_name": f"Public {tag}",
                "email": f"public-{tag}@example.com",
                "password": PASSWORD,
                "name": "Pat Public",
            },
        )

        assert response.status_code == 201, response.text

    async def test_login_needs_no_token(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
            "/v1/auth/login", json={"email": agency.email, "password": PASSWORD}
        )

        assert response.status_code == 200, response.text

    async def test_login_works_even_with_a_garbage_token_attached(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
            "/v1/auth/login",
            json={"email": agency.email, "password": PASSWORD},
            headers={"Authorization": "Bearer garbage"},
        )

        assert response.status_code == 200, response.text

    async def test_the_jwks_needs_no_token(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.get("/.well-known/jwks.json")

        assert response.status_code == 200
        assert response.json()["keys"]

    @pytest.mark.parametrize("method", ["GET", "POST"])
    async def test_the_unsubscribe_link_needs_no_token_and_its_own_token_is_checked(
        self, gateway: httpx.AsyncClient, method: str
    ) -> None:
        response = await gateway.request(
            method, "/v1/notification-preferences/unsubscribe", params={"token": "forged.token"}
        )

        body = assert_problem(response, 400, "bad-request")
        assert [e["field"] for e in body["errors"]] == ["token"]

    async def test_the_emailed_invitation_link_opens_without_a_token(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        email = f"followed-{uuid.uuid4().hex[:8]}@example.com"
        invitation = await invite(gateway, agency, email, "member")

        response = await gateway.get(f"/v1/invitations/{invitation['token']}/accept")

        assert response.status_code == 200, response.text
        assert (response.json()["email"], response.json()["role"]) == (email, "member")

    async def test_the_emailed_password_reset_link_is_answered_by_identity_without_a_token(
        self, gateway: httpx.AsyncClient
    ) -> None:
        response = await gateway.get(
            "/v1/auth/password-reset/confirm", params={"token": "pr_not-a-real-token"}
        )

        assert_problem(response, 400, "bad-request")  # identity's answer, not the gateway's 401

    async def test_a_public_path_with_another_method_still_needs_a_token(
        self, gateway: httpx.AsyncClient
    ) -> None:
        assert_rejected(await gateway.get("/v1/auth/signup"))

    async def test_me_is_not_public(self, gateway: httpx.AsyncClient) -> None:
        assert_rejected(await gateway.get("/v1/me"))


class TestRouting:
    @pytest.mark.parametrize("path", ["/v1/nothing-here", "/nowhere", "/v1", "/v1/clientsx"])
    async def test_an_unknown_path_is_a_404_problem(
        self, gateway: httpx.AsyncClient, agency: AgencySession, path: str
    ) -> None:
        response = await gateway.get(path, headers=agency.headers)

        assert_problem(response, 404, "not-found")

    async def test_an_unknown_path_is_404_even_without_a_token(
        self, gateway: httpx.AsyncClient
    ) -> None:
        assert_problem(await gateway.get("/v1/nothing-here"), 404, "not-found")

    async def test_a_service_answer_passes_through_with_its_status_and_headers(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.post(
            "/v1/clients", json={"company_name": "Passed Through"}, headers=agency.headers
        )

        assert response.status_code == 201, response.text
        assert response.headers["location"] == f"/v1/clients/{response.json()['id']}"
        assert response.headers["content-type"] == "application/json"

    async def test_query_strings_reach_the_service(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.get(
            "/v1/clients", params={"page": 3, "per_page": 7}, headers=agency.headers
        )

        assert response.status_code == 200, response.text
        assert (response.json()["page"], response.json()["per_page"]) == (3, 7)


class TestRequestId:
    async def test_a_valid_request_id_is_echoed(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        request_id = f"test-{uuid.uuid4().hex}"

        response = await gateway.get(
            PROTECTED, headers={**agency.headers, "X-Request-Id": request_id}
        )

        assert response.status_code == 200
        assert response.headers.get_list("x-request-id") == [request_id]

    async def test_a_request_id_is_generated_when_absent(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        first = await gateway.get(PROTECTED, headers=agency.headers)
        second = await gateway.get(PROTECTED, headers=agency.headers)

        ids = [first.headers["x-request-id"], second.headers["x-request-id"]]
        assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)
        assert ids[0] != ids[1]

    async def test_an_unsafe_request_id_is_replaced(self, gateway: httpx.AsyncClient) -> None:
        unsafe = "evil value\twith spaces " + "x" * 200

        response = await gateway.get("/.well-known/jwks.json", headers={"X-Request-Id": unsafe})

        assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])

    async def test_a_rejection_carries_a_request_id_too(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.get(PROTECTED, headers={"X-Request-Id": "rejected-1"})

        assert response.status_code == 401
        assert response.headers["x-request-id"] == "rejected-1"

    async def test_the_gateway_answers_each_of_its_own_headers_once(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        response = await gateway.get(PROTECTED, headers=agency.headers)

        for name in ("x-request-id", "date", "server", "content-type"):
            assert len(response.headers.get_list(name)) <= 1, name


class TestBodyLimit:
    async def test_a_body_one_byte_over_the_limit_is_a_413_problem(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        body = b"x" * (MAX_BODY_BYTES + 1)

        response = await gateway.post(
            "/v1/clients",
            content=body,
            headers={**agency.headers, "content-type": "application/json"},
        )

        assert_problem(response, 413, "payload-too-large")

    async def test_a_streamed_body_over_the_limit_without_a_length_is_a_413_problem(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(11):
                yield b"x" * (1024 * 1024)

        response = await gateway.post(
            "/v1/clients",
            content=chunks(),
            headers={**agency.headers, "content-type": "application/json"},
        )

        assert "content-length" not in response.request.headers
        assert_problem(response, 413, "payload-too-large")

    async def test_a_body_at_the_limit_is_forwarded(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        padding = MAX_BODY_BYTES - len(b'{"company_name": "Big", "notes": ""}')
        body = b'{"company_name": "Big", "notes": "' + b" " * padding + b'"}'
        assert len(body) == MAX_BODY_BYTES

        response = await gateway.post(
            "/v1/clients",
            content=body,
            headers={**agency.headers, "content-type": "application/json"},
        )

        # Forwarded: the service judged it (notes longer than 20 000 characters).
        assert response.status_code == 422, response.text
        assert "notes" in response.json()["detail"]


def operations_of(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path, method, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def is_problem(response: dict[str, Any] | None) -> bool:
    return response is not None and response.get("content") == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }


class TestOpenApi:
    @pytest.fixture
    async def document(self, gateway: httpx.AsyncClient) -> dict[str, Any]:
        response = await gateway.get("/openapi.json")
        assert response.status_code == 200
        doc: dict[str, Any] = response.json()
        return doc

    def test_the_merged_document_has_every_services_public_paths(
        self, document: dict[str, Any]
    ) -> None:
        assert {
            "/v1/auth/signup",
            "/v1/auth/login",
            "/v1/me",
            "/v1/clients",
            "/v1/clients/{client_id}",
            "/v1/notifications",
        } <= set(document["paths"])
        assert document["info"]["x-services-missing"] == []

    def test_the_document_declares_bearer_authentication(self, document: dict[str, Any]) -> None:
        assert document["components"]["securitySchemes"]["bearerAuth"] == {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
        }
        assert document["paths"]["/v1/clients"]["post"]["security"] == [{"bearerAuth": []}]
        assert document["paths"]["/v1/me"]["get"]["security"] == [{"bearerAuth": []}]
        assert "security" not in document["paths"]["/v1/auth/signup"]["post"]

    def test_operational_endpoints_of_the_services_are_not_listed(
        self, document: dict[str, Any]
    ) -> None:
        assert not {"/healthz", "/readyz", "/metrics", "/openapi.json"} & set(document["paths"])

    def test_every_schema_reference_resolves(self, document: dict[str, Any]) -> None:
        refs = re.findall(r'"\$ref": "#/components/schemas/([^"]+)"', json.dumps(document))

        assert refs
        assert set(refs) <= set(document["components"]["schemas"])

    def test_every_authenticated_operation_documents_401_and_429_as_problems(
        self, document: dict[str, Any]
    ) -> None:
        missing = [
            f"{method.upper()} {path}: {status}"
            for path, method, operation in operations_of(document)
            if "security" in operation
            for status in ("401", "429")
            if not is_problem(operation["responses"].get(status))
        ]

        assert not missing

    def test_429_documents_retry_after_and_the_rate_limit_headers(
        self, document: dict[str, Any]
    ) -> None:
        for operation in (
            document["paths"]["/v1/clients"]["get"],
            document["paths"]["/v1/auth/login"]["post"],
        ):
            assert set(operation["responses"]["429"]["headers"]) == {
                "Retry-After",
                "RateLimit-Limit",
                "RateLimit-Remaining",
                "RateLimit-Reset",
            }
        assert "429" not in document["paths"]["/v1/webhooks/stripe"]["post"]["responses"]

    def test_every_error_answer_is_a_problem_and_fastapis_422_shape_is_gone(
        self, document: dict[str, Any]
    ) -> None:
        not_problems = [
            f"{method.upper()} {path}: {status}"
            for path, method, operation in operations_of(document)
            for status, response in operation["responses"].items()
            if status >= "400" and not is_problem(response)
        ]

        assert not not_problems
        assert "HTTPValidationError" not in document["components"]["schemas"]
        assert "errors" in document["components"]["schemas"]["Problem"]["properties"]

    def test_every_operation_with_a_path_id_documents_404(self, document: dict[str, Any]) -> None:
        missing = [
            f"{method.upper()} {path}"
            for path, method, operation in operations_of(document)
            if "{" in path and "404" not in operation["responses"]
        ]

        assert not missing

    def test_gateway_answers_are_documented(self, document: dict[str, Any]) -> None:
        for path, method, operation in operations_of(document):
            assert {"400", "503", "504"} <= set(operation["responses"]), (method, path)
            if "requestBody" in operation:
                assert "413" in operation["responses"], (method, path)

    async def test_the_docs_page_points_at_the_merged_document(
        self, gateway: httpx.AsyncClient
    ) -> None:
        response = await gateway.get("/docs")

        assert response.status_code == 200
        assert "/openapi.json" in response.text


class TestOperations:
    async def test_the_gateway_is_ready(self, gateway: httpx.AsyncClient) -> None:
        response = await gateway.get("/readyz")

        assert response.status_code == 200, response.text
        assert response.json() == {"status": "ready", "checks": {"jwks": "ok"}}

    async def test_every_service_is_ready(self, platform: Platform) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            for name in platform.processes:
                response = await client.get(f"{platform.url(name)}/readyz")
                assert response.status_code == 200, (name, response.text)

    async def test_metrics_count_requests_by_route_prefix(
        self,
        gateway: httpx.AsyncClient,
        gateway_metrics: httpx.AsyncClient,
        agency: AgencySession,
    ) -> None:
        labels = {"service": "gateway", "method": "GET", "route": "/v1/clients"}
        total = "agencyos_http_requests_total"
        before = await counter(gateway_metrics, total, **labels)

        await gateway.get("/v1/clients", headers=agency.headers)
        await gateway.get(f"/v1/clients/{uuid.uuid4()}", headers=agency.headers)
        await gateway.get("/v1/clients")

        assert await counter(gateway_metrics, total, **labels) == before + 3
        assert await counter(gateway_metrics, total, status="401", **labels) >= 1
        routes = await label_values(gateway_metrics, total, "route")
        assert not [r for r in routes if r.startswith("/v1/clients/")]  # no per-id series

    async def test_metrics_are_served_on_the_metrics_port_only(
        self, gateway: httpx.AsyncClient, gateway_metrics: httpx.AsyncClient
    ) -> None:
        public = await gateway.get("/metrics")
        private = await gateway_metrics.get("/metrics")

        assert_problem(public, 404)
        assert "agencyos_http_requests_total" not in public.text
        assert private.status_code == 200
        assert "agencyos_http_requests_total" in private.text
        assert (await gateway.get("/healthz")).status_code == 200  # probes stay public
