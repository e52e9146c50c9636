"""Sessions through the real gateway: a refreshed access token accepted there, logout there
(with and without a token), and the session routes refused without one."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.factories import (
    PASSWORD,
    AgencySession,
    signup_agency,
)
from agencyos.testing.http import assert_problem, unverified_jwt

GENERIC_DETAIL = "the refresh token is not valid; log in again"


def bearer(access_token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {access_token}"}


async def refresh(client: httpx.AsyncClient, refresh_token: str) -> httpx.Response:
    return await client.post("/v1/auth/refresh", json={"refresh_token": refresh_token})


async def refreshed(client: httpx.AsyncClient, refresh_token: str) -> dict[str, Any]:
    response = await refresh(client, refresh_token)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def assert_refused(response: httpx.Response) -> dict[str, Any]:
    body = assert_problem(response, 401, "unauthenticated")
    assert body["detail"] == GENERIC_DETAIL
    assert "access_token" not in response.text
    return body


async def login(
    client: httpx.AsyncClient, who: AgencySession, user_agent: str | None = None
) -> dict[str, Any]:
    headers = {"User-Agent": user_agent} if user_agent else {}
    response = await client.post(
        "/v1/auth/login",
        json={"email": who.email, "password": PASSWORD, "agency_slug": who.slug},
        headers=headers,
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


class TestRefreshRotation:
    async def test_the_refreshed_access_token_works_at_the_gateway_for_the_same_session(
        self, gateway: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(gateway)

        body = await refreshed(gateway, owner.refresh_token)
        me = await gateway.get("/v1/me", headers=bearer(body["access_token"]))

        assert me.status_code == 200, me.text
        assert me.json()["agency"]["id"] == str(owner.agency_id)
        _, before = unverified_jwt(owner.access_token)
        _, after = unverified_jwt(body["access_token"])
        assert (after["sub"], after["tid"], after["role"], after["sid"]) == (
            before["sub"],
            before["tid"],
            before["role"],
            before["sid"],
        )
        assert after["jti"] != before["jti"]


class TestLogout:
    async def test_logout_through_the_gateway_leaves_the_users_other_sessions(
        self, gateway: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(gateway)
        other_device = await login(gateway, owner)

        response = await gateway.post("/v1/auth/logout", headers=owner.headers)

        assert response.status_code == 204, response.text
        assert_refused(await refresh(gateway, owner.refresh_token))
        assert (await refresh(gateway, other_device["refresh_token"])).status_code == 200

    async def test_logout_without_an_access_token_is_a_401_at_the_gateway(
        self, gateway: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(gateway)

        response = await gateway.post(
            "/v1/auth/logout", json={"refresh_token": owner.refresh_token}
        )

        assert_problem(response, 401, "unauthenticated")
        assert (await refresh(gateway, owner.refresh_token)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/v1/sessions"),
        ("POST", "/v1/sessions/revoke-all"),
        ("DELETE", f"/v1/sessions/{uuid.UUID(int=1)}"),
        ("POST", "/v1/auth/logout"),
    ],
)
async def test_session_routes_without_a_token_are_401_at_the_gateway(
    gateway: httpx.AsyncClient, method: str, path: str
) -> None:
    response = await gateway.request(method, path)

    assert_problem(response, 401, "unauthenticated")
