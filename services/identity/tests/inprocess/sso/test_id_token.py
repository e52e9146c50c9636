"""The ID token's signature, below the flow: tokens the provider really signed, checked
against the JWKS of the issuer they claim. The flow itself always fetches its token from the
agency's own token endpoint, so a token signed by another provider can only be shown here."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from joserfc import jwt
from joserfc.jwk import OctKey

from agencyos.identity.sso.provider import ProviderError, token_auth_method, verify_id_token
from agencyos.testing import oidc

from .conftest import callback_of

CLIENT_ID = "agencyos-id-token-tests"
REDIRECT_URI = "http://127.0.0.1:8080/v1/auth/sso/callback"


async def minted(issuer: str, claims: dict[str, Any], nonce: str) -> str:
    """An ID token `issuer` signs (its own key) through the code flow, with `claims`."""
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = urlencode(
        {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": REDIRECT_URI,
            "scope": "openid email",
            "state": "s",
            "nonce": nonce,
            "code_challenge": challenge.rstrip(b"=").decode(),
            "code_challenge_method": "S256",
        }
    )
    location = await oidc.sign_in(f"{issuer}/authorize?{query}", subject="ada", claims=claims)
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
        answer = await http.post(
            f"{issuer}/token",
            data={
                "grant_type": "authorization_code",
                "code": callback_of(location).code,
                "redirect_uri": REDIRECT_URI,
                "code_verifier": verifier,
            },
            auth=(CLIENT_ID, "secret"),
        )
    answer.raise_for_status()
    token: str = answer.json()["id_token"]
    return token


async def jwks_of(issuer: str) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
        response = await http.get(f"{issuer}/jwks")
    response.raise_for_status()
    keys: dict[str, Any] = response.json()
    return keys


def verify(token: str, jwks: dict[str, Any], issuer: str, nonce: str) -> dict[str, Any]:
    return verify_id_token(
        token, jwks, issuer=issuer, client_id=CLIENT_ID, nonce=nonce, access_token=None, leeway=0
    )


class TestSignature:
    async def test_a_token_the_issuer_signed_verifies_against_its_jwks(self) -> None:
        issuer = oidc.new_issuer()
        token = await minted(issuer, oidc.person_claims("ada@staff.example"), "n-1")

        claims = verify(token, await jwks_of(issuer), issuer, "n-1")

        assert claims["email"] == "ada@staff.example"

    async def test_a_token_another_provider_signed_in_this_issuers_name_is_refused(
        self,
    ) -> None:
        # Agency B's provider mints a token that claims to be agency A's issuer, with A's
        # client and nonce: everything matches but the key.
        issuer_a, issuer_b = oidc.new_issuer("a"), oidc.new_issuer("b")
        forged = await minted(
            issuer_b, oidc.person_claims("ada@staff.example", iss=issuer_a), "n-2"
        )

        with pytest.raises(ProviderError) as refused:
            verify(forged, await jwks_of(issuer_a), issuer_a, "n-2")

        assert refused.value.reason == "bad_signature"

    async def test_an_unsigned_token_is_refused(self) -> None:
        issuer = oidc.new_issuer()
        now = int(time.time())
        claims = {"iss": issuer, "aud": CLIENT_ID, "sub": "x", "iat": now, "exp": now + 60}

        def part(value: dict[str, Any]) -> str:
            return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

        unsigned = f"{part({'alg': 'none', 'typ': 'JWT'})}.{part({**claims, 'nonce': 'n'})}."

        with pytest.raises(ProviderError) as refused:
            verify(unsigned, await jwks_of(issuer), issuer, "n")

        assert refused.value.reason == "bad_signature"

    async def test_a_token_signed_with_a_shared_secret_is_refused(self) -> None:
        # HS256 keyed with something an attacker may know (e.g. a client secret) never counts.
        issuer = oidc.new_issuer()
        now = int(time.time())
        key = OctKey.import_key(b"a-shared-secret-of-32-bytes-long!")
        token = jwt.encode(
            {"alg": "HS256"},
            {
                "iss": issuer,
                "aud": CLIENT_ID,
                "sub": "x",
                "iat": now,
                "exp": now + 60,
                "nonce": "n",
            },
            key,
        )
        jwks = {"keys": [{**key.as_dict(), "kid": "shared"}]}

        with pytest.raises(ProviderError) as refused:
            verify(token, jwks, issuer, "n")

        assert refused.value.reason == "bad_signature"


class TestTokenEndpointAuth:
    @pytest.mark.parametrize(
        ("supported", "chosen"),
        [
            (None, "client_secret_basic"),
            (["client_secret_basic", "client_secret_post"], "client_secret_basic"),
            (["client_secret_post"], "client_secret_post"),
        ],
        ids=["unlisted", "both", "post-only"],
    )
    def test_basic_unless_the_provider_takes_only_post(
        self, supported: list[str] | None, chosen: str
    ) -> None:
        assert token_auth_method(supported) == chosen

    def test_a_provider_with_neither_is_refused(self) -> None:
        with pytest.raises(ProviderError):
            token_auth_method(["private_key_jwt"])
