"""The local stack's OpenID Connect provider (NAV's mock-oauth2-server, started by
deploy/local/stack.sh) as single sign-on tests use it.

Every first path segment is an issuer of its own (`http://127.0.0.1:18080/<issuer id>`, with
its own signing key), so a test makes one per agency (`new_issuer()`) and another agency's
provider is just another id. Its login page takes any user name and a JSON object of claims
that go into the ID token as given, even registered ones (`nonce`, `exp`, `iss`, `aud`): a test
plays the user (`sign_in`) or the attacker who controls what the provider says.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Mapping
from typing import Any

import httpx

DEFAULT_OIDC_URL = "http://127.0.0.1:18080"


def oidc_url() -> str:
    """The provider's base URL (`AGENCYOS_OIDC_URL` when set)."""
    return os.environ.get("AGENCYOS_OIDC_URL", DEFAULT_OIDC_URL).rstrip("/")


def new_issuer(label: str = "agency") -> str:
    """An issuer URL no other test uses."""
    return f"{oidc_url()}/{label}-{uuid.uuid4().hex[:12]}"


async def ensure_running() -> None:
    """Fail with how to start the provider when it does not answer."""
    url = f"{oidc_url()}/agencyos/.well-known/openid-configuration"
    try:
        async with httpx.AsyncClient(timeout=5.0, trust_env=False) as http:
            response = await http.get(url)
        response.raise_for_status()
    except httpx.HTTPError as error:
        raise RuntimeError(
            f"the OIDC provider does not answer at {url} ({error}); start it with "
            "`deploy/local/stack.sh oidc start` (or `make stack-up`)"
        ) from error


async def sign_in(
    authorization_url: str,
    *,
    subject: str,
    claims: Mapping[str, Any],
) -> str:
    """Sign in at the provider's authorization URL (as a person would on its login page) as
    `subject` with `claims` in the ID token; answers where the provider redirects the browser
    (the relying party's redirect URI with `code` and `state`)."""
    async with httpx.AsyncClient(timeout=10.0, trust_env=False) as http:
        response = await http.post(
            authorization_url,
            data={"username": subject, "claims": json.dumps(dict(claims))},
        )
    if response.status_code != 302:
        raise AssertionError(
            f"the provider did not redirect after sign-in: {response.status_code} "
            f"{response.text[:500]}"
        )
    return response.headers["location"]


def person_claims(email: str, *, verified: bool = True, **extra: Any) -> dict[str, Any]:
    """The claims of a person with `email` (verified unless told otherwise)."""
    return {"email": email, "email_verified": verified, "name": email.split("@")[0], **extra}
