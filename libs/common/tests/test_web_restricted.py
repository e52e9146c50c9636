"""Tokens restricted to two-factor enrollment (`restricted` claim) at a service's HTTP edge:
refused by ordinary and permission routes, admitted by routes that opt in. Driven over ASGI
against the real PostgreSQL and a real JWKS endpoint (the fixtures of conftest.py)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_problem


class TestRestrictedTokens:
    """A token with a `restricted` claim (good only for enrolling in two-factor sign-in) is
    refused by every route that takes the ordinary principal, and admitted by one that opts in
    (CurrentPrincipalEvenRestricted, TenantSessionEvenRestricted)."""

    @pytest.mark.parametrize(
        ("method", "path"),
        [("POST", "/widgets"), ("GET", "/widgets/6f1c2a44-0000-4000-8000-000000000001")],
    )
    async def test_an_ordinary_route_answers_403_naming_the_enroll_route(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID, method: str, path: str
    ) -> None:
        headers = bearer(tenant, restricted="2fa_enrollment")

        response = await client.request(method, path, json={"name": "x"}, headers=headers)

        body = assert_problem(response, 403, "two-factor-enrollment-required")
        assert body["enroll"] == "/v1/auth/2fa/enroll"
        assert body["restriction"] == "2fa_enrollment"

    async def test_a_route_that_opts_in_admits_it_under_its_tenant(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        response = await client.get("/whoami", headers=bearer(tenant, restricted="2fa_enrollment"))

        assert response.status_code == 200, response.text
        assert response.json()["tenant"] == str(tenant)
        assert response.json()["restricted"] == "2fa_enrollment"

    async def test_an_unrestricted_token_is_admitted_everywhere(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        assert (await client.get("/whoami", headers=bearer(tenant))).json()["restricted"] is None
        response = await client.post("/widgets", json={"name": "x"}, headers=bearer(tenant))
        assert response.status_code == 201, response.text

    async def test_a_permission_route_refuses_it_even_when_its_role_holds_the_permission(
        self, client: httpx.AsyncClient, bearer: Any, tenant: uuid.UUID
    ) -> None:
        headers = bearer(tenant, role="owner", restricted="2fa_enrollment")

        response = await client.get("/reports/secret", headers=headers)

        assert_problem(response, 403, "two-factor-enrollment-required")
