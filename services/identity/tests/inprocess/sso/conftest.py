"""Single sign-on against the local stack's real OpenID provider (agencyos.testing.oidc):
each test gives its agency an issuer of its own on it, then plays the person at the provider's
login page (or the attacker who controls what that provider says)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from agencyos.testing import oidc
from agencyos.testing.factories import AgencySession
from agencyos.testing.inprocess import ServiceInProcess

CLIENT_SECRET = "provider-issued-client-secret"


@pytest.fixture(autouse=True)
async def _provider_running() -> None:
    await oidc.ensure_running()


@dataclass(frozen=True)
class Provider:
    issuer: str
    client_id: str
    domain: str

    def email(self, label: str = "person") -> str:
        return f"{label}-{uuid.uuid4().hex[:8]}@{self.domain}"


Configure = Callable[..., Awaitable[Provider]]


@pytest.fixture
def configure(identity: httpx.AsyncClient) -> Configure:
    """`await configure(agency, **overrides)`: give `agency` a provider of its own (a new
    issuer on the local OIDC provider, a domain of its own), saved through the API."""

    async def save(agency: AgencySession, **overrides: Any) -> Provider:
        tag = uuid.uuid4().hex[:10]
        provider = Provider(
            issuer=overrides.pop("issuer", None) or oidc.new_issuer(),
            client_id=overrides.pop("client_id", f"agencyos-{tag}"),
            domain=overrides.pop("domain", f"staff-{tag}.example"),
        )
        body = {
            "issuer": provider.issuer,
            "client_id": provider.client_id,
            "client_secret": CLIENT_SECRET,
            "allowed_email_domains": [provider.domain],
            "default_role": "member",
            **overrides,
        }
        response = await identity.put("/v1/agency/sso", json=body, headers=agency.headers)
        assert response.status_code == 200, response.text
        return provider

    return save


@dataclass(frozen=True)
class Callback:
    code: str | None
    state: str | None
    params: dict[str, str]


def callback_of(location: str) -> Callback:
    query = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    return Callback(query.get("code"), query.get("state"), query)


async def start(identity: httpx.AsyncClient, slug: str) -> str:
    response = await identity.get(f"/v1/auth/sso/{slug}/start")
    assert response.status_code == 302, response.text
    return response.headers["location"]


async def finish(identity: httpx.AsyncClient, callback: Callback) -> httpx.Response:
    return await identity.get("/v1/auth/sso/callback", params=callback.params)


SignIn = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def sso_sign_in(identity: httpx.AsyncClient) -> SignIn:
    """`await sso_sign_in(agency_slug, email, **claims)`: the whole flow as a browser would
    follow it (start → the provider's login page → the callback); answers the callback's
    response."""

    async def run(slug: str, email: str, **claims: Any) -> httpx.Response:
        authorization = await start(identity, slug)
        location = await oidc.sign_in(
            authorization, subject=f"sub-{email}", claims=oidc.person_claims(email, **claims)
        )
        return await finish(identity, callback_of(location))

    return run


@pytest.fixture
async def strict_destinations(identity_service: ServiceInProcess) -> AsyncIterator[None]:
    """identity's outbound-URL rule as in production (https on public addresses only)."""
    settings = identity_service.settings
    saved = (settings.sso_allow_http, settings.sso_allowed_private_networks)  # type: ignore[attr-defined]
    settings.sso_allow_http = False  # type: ignore[attr-defined]
    settings.sso_allowed_private_networks = []  # type: ignore[attr-defined]
    try:
        yield
    finally:
        settings.sso_allow_http, settings.sso_allowed_private_networks = saved  # type: ignore[attr-defined]
