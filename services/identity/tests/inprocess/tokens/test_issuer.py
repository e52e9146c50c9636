"""The access tokens identity issues: their claims, their signature by a key published in
the JWKS, a jti of their own, a client user's client id."""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet

from agencyos.testing.factories import PASSWORD, AgencySession, signup_agency
from agencyos.testing.http import unverified_jwt

AddMember = Callable[[AgencySession, str], Awaitable[AgencySession]]

ISSUER = "agencyos"
AUDIENCE = "agencyos-api"


async def jwks(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/.well-known/jwks.json")
    assert response.status_code == 200, response.text
    keys: dict[str, Any] = response.json()
    return keys


async def login(client: httpx.AsyncClient, **body: Any) -> httpx.Response:
    return await client.post("/v1/auth/login", json=body)


class TestAccessToken:
    async def test_the_claims_name_the_user_the_agency_and_the_role(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        before = int(time.time())

        header, claims = unverified_jwt(owner.access_token)

        assert header["alg"] == "RS256"
        assert claims["sub"] == str(owner.user_id)
        assert claims["tid"] == str(owner.agency_id)
        assert claims["role"] == "owner"
        assert claims["iss"] == ISSUER
        assert claims["aud"] == AUDIENCE
        assert "cid" not in claims
        assert claims["iat"] <= before + 5
        assert claims["iat"] >= before - 60
        assert 0 < claims["exp"] - claims["iat"] <= 3600
        uuid.UUID(hex=claims["jti"])

    async def test_the_token_is_signed_by_a_key_published_in_the_jwks(
        self, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)
        published = await jwks(identity)
        header, _ = unverified_jwt(owner.access_token)

        assert header["kid"] in {key["kid"] for key in published["keys"]}
        assert all(key["kty"] == "RSA" for key in published["keys"])
        assert all("d" not in key and "p" not in key for key in published["keys"])
        decoded = jwt.decode(
            owner.access_token, KeySet.import_key_set(published), algorithms=["RS256"]
        )
        assert decoded.claims["sub"] == str(owner.user_id)

    async def test_every_token_has_its_own_jti(self, identity: httpx.AsyncClient) -> None:
        owner = await signup_agency(identity)

        again = await login(identity, email=owner.email, password=PASSWORD)

        assert again.status_code == 200, again.text
        _, first = unverified_jwt(owner.access_token)
        _, second = unverified_jwt(again.json()["access_token"])
        assert first["jti"] != second["jti"]

    async def test_a_client_users_token_carries_its_client_id(
        self, add_member: AddMember, identity: httpx.AsyncClient
    ) -> None:
        owner = await signup_agency(identity)

        client_user = await add_member(owner, "client")

        _, claims = unverified_jwt(client_user.access_token)
        assert claims["role"] == "client"
        assert uuid.UUID(claims["cid"])
