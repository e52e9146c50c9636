"""Talking to an agency's OpenID provider: its discovery document, the token endpoint and its
JWKS, each over the project's one outbound-URL rule (agencyos.common.destinations), and the
ID token's validation (authlib's OpenID Connect claims over joserfc's signature check).

Every URL (the issuer and each URL its documents name) is judged before any connection; the
name is resolved once, every address it resolves to must be allowed, and the connection goes
to one of those addresses (Host and TLS SNI set to the name), so a DNS answer that changes in
between cannot slip a private address in. Redirects are never followed. An answer is read up
to `_BODY_LIMIT` bytes.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
from authlib.oidc.core import CodeIDToken
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from agencyos.common.destinations import (
    Destination,
    DestinationPolicy,
    IPAddress,
    RefusedDestination,
)
from agencyos.identity.settings import IdentitySettings

_BODY_LIMIT = 512 * 1024
# Asymmetric algorithms only: `none` and the HMAC ones (keyed with the client secret) never.
ID_TOKEN_ALGORITHMS = [
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
]


class ProviderError(Exception):
    """The provider could not be used; `reason` is a short stable slug (audit), the message
    says why, for people."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True)
class Discovery:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    token_endpoint_auth_method: str


@dataclass(frozen=True)
class VerifiedIdentity:
    subject: str
    email: str
    name: str | None


def policy_of(settings: IdentitySettings) -> DestinationPolicy:
    return DestinationPolicy.of(settings.sso_allow_http, settings.sso_allowed_private_networks)


def normalise_issuer(issuer: str) -> str:
    return issuer.strip().rstrip("/")


class ProviderClient:
    """One provider conversation (a save, a sign-in): a client per request, as SSO is rare."""

    def __init__(self, settings: IdentitySettings) -> None:
        self.policy = policy_of(settings)
        self.timeout = settings.sso_http_timeout_seconds

    def check_url(self, url: str, what: str) -> Destination:
        try:
            return self.policy.parse(url)
        except RefusedDestination as refused:
            raise ProviderError("refused_url", f"the {what} URL is refused: {refused}") from None

    async def discover(self, issuer: str) -> Discovery:
        """The issuer's discovery document, checked as OpenID Connect Discovery 1.0 §4.3 asks
        (its `issuer` is exactly the one configured) and every URL it names allowed."""
        issuer = normalise_issuer(issuer)
        self.check_url(issuer, "issuer")
        document = await self.get_json(f"{issuer}/.well-known/openid-configuration", "discovery")
        if not isinstance(document, dict):
            raise ProviderError("bad_discovery", "the discovery document is not a JSON object")
        if normalise_issuer(str(document.get("issuer", ""))) != issuer:
            raise ProviderError(
                "issuer_mismatch",
                f"the discovery document names issuer {document.get('issuer')!r}, not {issuer!r}",
            )
        urls: dict[str, str] = {}
        for field in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = document.get(field)
            if not isinstance(value, str) or not value:
                raise ProviderError("bad_discovery", f"the discovery document has no {field}")
            self.check_url(value, field.replace("_", " "))
            urls[field] = value
        methods = document.get("code_challenge_methods_supported")
        if isinstance(methods, list) and "S256" not in methods:
            raise ProviderError("bad_discovery", "the provider does not support PKCE with S256")
        return Discovery(
            issuer=issuer,
            token_endpoint_auth_method=token_auth_method(
                document.get("token_endpoint_auth_methods_supported")
            ),
            **urls,
        )

    async def exchange_code(
        self,
        token_endpoint: str,
        *,
        code: str,
        redirect_uri: str,
        code_verifier: str,
        client_id: str,
        client_secret: str,
        auth_method: str = "client_secret_basic",
    ) -> dict[str, Any]:
        """The token endpoint's answer for an authorization code, the client authenticated as
        `auth_method` says (client_secret_basic or client_secret_post)."""
        data = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        auth: tuple[str, str] | None = None
        if auth_method == "client_secret_post":
            data |= {"client_id": client_id, "client_secret": client_secret}
        else:
            # RFC 6749 §2.3.1: both form-encoded before they go into the Basic credentials
            auth = (quote(client_id, safe=""), quote(client_secret, safe=""))
        answer = await self._request("POST", token_endpoint, "token endpoint", data=data, auth=auth)
        if not isinstance(answer, dict) or not isinstance(answer.get("id_token"), str):
            raise ProviderError("no_id_token", "the token endpoint answered no ID token")
        return answer

    async def get_json(self, url: str, what: str) -> Any:
        return await self._request("GET", url, what)

    async def _request(
        self,
        method: str,
        url: str,
        what: str,
        *,
        data: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Any:
        destination = self.check_url(url, what)
        try:
            addresses = await self.policy.resolve(destination)
        except RefusedDestination as refused:
            raise ProviderError("refused_url", f"the {what} URL is refused: {refused}") from None
        last: httpx.HTTPError | None = None
        for address in addresses:
            try:
                status, body = await self._send(method, destination, address, data, auth)
                break
            except httpx.ConnectError as error:  # the next address may answer
                last = error
            except httpx.HTTPError as error:
                raise ProviderError(
                    "provider_unreachable", f"the {what} did not answer ({type(error).__name__})"
                ) from None
        else:
            raise ProviderError(
                "provider_unreachable", f"the {what} could not be reached ({last})"
            ) from None
        if not 200 <= status < 300:
            raise ProviderError(
                "provider_error" if status != 400 else "code_refused",
                f"the {what} answered {status}: {body[:300].decode(errors='replace')}",
            )
        try:
            return json.loads(body)
        except ValueError:
            raise ProviderError("bad_answer", f"the {what} did not answer JSON") from None

    async def _send(
        self,
        method: str,
        destination: Destination,
        address: IPAddress,
        data: Mapping[str, str] | None,
        auth: tuple[str, str] | None,
    ) -> tuple[int, bytes]:
        parts = urlsplit(destination.url)
        literal = f"[{address}]" if address.version == 6 else str(address)
        default_port = 443 if destination.scheme == "https" else 80
        netloc = literal if destination.port == default_port else f"{literal}:{destination.port}"
        host = f"[{destination.host}]" if ":" in destination.host else destination.host
        host_header = host if destination.port == default_port else f"{host}:{destination.port}"
        target = urlunsplit((destination.scheme, netloc, parts.path or "/", parts.query, ""))
        async with (
            httpx.AsyncClient(
                follow_redirects=False, trust_env=False, timeout=self.timeout
            ) as http,
            http.stream(
                method,
                target,
                data=data,
                auth=auth,
                headers={"host": host_header, "accept": "application/json"},
                extensions={"sni_hostname": destination.host},
            ) as response,
        ):
            received = bytearray()
            async for chunk in response.aiter_bytes():
                received += chunk
                if len(received) > _BODY_LIMIT:
                    raise ProviderError("bad_answer", "the provider's answer is too large")
            return response.status_code, bytes(received)


def token_auth_method(supported: object) -> str:
    """client_secret_basic (the default, RFC 8414) unless the provider lists only _post."""
    if not isinstance(supported, list) or "client_secret_basic" in supported:
        return "client_secret_basic"
    if "client_secret_post" in supported:
        return "client_secret_post"
    raise ProviderError(
        "bad_discovery",
        "the provider's token endpoint accepts neither client_secret_basic nor _post",
    )


def verify_id_token(
    id_token: str,
    jwks: Any,
    *,
    issuer: str,
    client_id: str,
    nonce: str,
    access_token: str | None,
    leeway: int,
) -> dict[str, Any]:
    """The ID token's claims once its signature (a key of the provider's JWKS, an asymmetric
    algorithm) and its claims (OpenID Connect Core §3.1.3.7: iss, aud, azp, exp, iat, nonce,
    at_hash) are valid; else ProviderError with the reason."""
    try:
        keys = KeySet.import_key_set(jwks)
    except (JoseError, ValueError, TypeError, KeyError):
        raise ProviderError("bad_jwks", "the provider's JWKS cannot be read") from None
    try:
        token = jwt.decode(id_token, keys, algorithms=ID_TOKEN_ALGORITHMS)
    except (JoseError, ValueError) as error:
        raise ProviderError(
            "bad_signature", f"the ID token's signature does not verify ({error})"
        ) from None
    claims = CodeIDToken(
        token.claims,
        token.header,
        options={
            "iss": {"essential": True, "value": issuer},
            "aud": {"essential": True, "value": client_id},
            "sub": {"essential": True},
            "exp": {"essential": True},
            "iat": {"essential": True},
            "nonce": {"essential": True, "value": nonce},
        },
        params={"nonce": nonce, "client_id": client_id, "access_token": access_token},
    )
    try:
        claims.validate(now=int(time.time()), leeway=leeway)
    except JoseError as error:
        claim = getattr(error, "claim", None) or str(error)
        raise ProviderError(
            _claim_reason(str(claim)), f"the ID token is not valid ({error})"
        ) from None
    return dict(claims)


def _claim_reason(claim: str) -> str:
    for name, reason in (
        ("nonce", "nonce_mismatch"),
        ("iss", "issuer_mismatch"),
        ("aud", "audience_mismatch"),
        ("azp", "audience_mismatch"),
        ("exp", "token_expired"),
    ):
        if name in claim:
            return reason
    return "invalid_id_token"


def identity_of(claims: Mapping[str, Any]) -> VerifiedIdentity:
    """Who the ID token says signed in, if the provider vouches for their email."""
    email = claims.get("email")
    if not isinstance(email, str) or "@" not in email:
        raise ProviderError("no_email", "the ID token carries no email address")
    if claims.get("email_verified") is not True:
        raise ProviderError("email_not_verified", "the provider has not verified this email")
    name = claims.get("name")
    return VerifiedIdentity(
        subject=str(claims["sub"]),
        email=email.strip().lower(),
        name=name.strip()[:200] if isinstance(name, str) and name.strip() else None,
    )


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[1].lower()
