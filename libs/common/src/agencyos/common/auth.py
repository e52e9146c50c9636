"""Who is calling: RS256 access tokens verified against identity's JWKS, and the Principal.

The tenant of every request comes from here and nowhere else (ARCHITECTURE.md §3).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from joserfc import jws, jwt
from joserfc.errors import ExpiredTokenError, JoseError
from joserfc.jwk import KeySet

from agencyos.common.errors import (
    EmailNotVerified,
    PermissionDenied,
    ServiceUnavailable,
    Unauthenticated,
)
from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role

ALGORITHM = "RS256"


@dataclass(frozen=True)
class Principal:
    """The verified caller: a user (or API key) acting in one agency with one role."""

    user_id: uuid.UUID
    tenant_id: uuid.UUID
    role: Role
    permissions: frozenset[str]
    token: str = field(repr=False)
    client_id: uuid.UUID | None = None
    token_id: str | None = None
    # The identity session (refresh-token family) the token was issued in (`sid`), if any.
    session_id: str | None = None
    # Set when the caller is an API key (`akid`); `user_id` is then the key's id too.
    api_key_id: uuid.UUID | None = None
    # When the token was issued, in milliseconds since the epoch: identity's `iat_ms` claim,
    # else `iat` (whole seconds). Revocation "not before" times are compared with it.
    issued_at_ms: int | None = None
    # When the token expires (`exp`, seconds since the epoch): what outlives one request (a
    # live stream) ends then.
    expires_at: float | None = None
    # Whether the user has proved their email address (`email_verified`). Absent means True:
    # API-key tokens and tokens older than the claim are not held back.
    email_verified: bool = True
    # The agency's IP allowlist (`ipal`, CIDR strings) when it has one: the gateway refuses a
    # request from outside it. Empty: any address.
    ip_allowlist: tuple[str, ...] = ()
    # What the token is good for when it is not good for everything (`restricted` claim):
    # "2fa_enrollment" is a member whose agency requires two-factor sign-in and who has not
    # enrolled yet; only the routes that opt in (web.CurrentPrincipalEvenRestricted) take it.
    restricted: str | None = None

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    def require(self, permission: str) -> None:
        if not self.can(permission):
            raise PermissionDenied(f"this action needs the '{permission}' permission")

    def require_verified_email(self, action: str) -> None:
        """Refuse `action` (e.g. "invite people") until the user has verified their email."""
        if not self.email_verified:
            raise EmailNotVerified(
                f"verify your email address before you {action}: follow the link we emailed "
                "you (or ask for a new one with POST /v1/auth/verify-email/resend), then "
                "refresh your token"
            )

    @property
    def authorization(self) -> str:
        return f"Bearer {self.token}"


def principal_from_claims(claims: dict[str, Any], token: str) -> Principal:
    try:
        role = Role(claims["role"])
        perms = claims.get("perms")
        return Principal(
            user_id=uuid.UUID(str(claims["sub"])),
            tenant_id=uuid.UUID(str(claims["tid"])),
            role=role,
            permissions=frozenset(perms)
            if isinstance(perms, list)
            else DEFAULT_ROLE_PERMISSIONS[role],
            token=token,
            client_id=uuid.UUID(str(claims["cid"])) if claims.get("cid") else None,
            token_id=claims.get("jti"),
            session_id=str(claims["sid"]) if claims.get("sid") else None,
            api_key_id=uuid.UUID(str(claims["akid"])) if claims.get("akid") else None,
            issued_at_ms=_issued_at_ms(claims),
            expires_at=_expires_at(claims),
            email_verified=claims.get("email_verified") is not False,
            ip_allowlist=_ip_allowlist(claims),
            restricted=str(claims["restricted"]) if claims.get("restricted") else None,
        )
    except (KeyError, ValueError) as exc:
        raise Unauthenticated("the token's claims are incomplete") from exc


def _ip_allowlist(claims: dict[str, Any]) -> tuple[str, ...]:
    listed = claims.get("ipal")
    if listed is None:
        return ()
    if not isinstance(listed, list) or not all(isinstance(c, str) for c in listed):
        raise ValueError("ipal must be a list of CIDR strings")
    return tuple(listed)


TWO_FACTOR_ENROLLMENT = "2fa_enrollment"
TWO_FACTOR_ENROLL_ROUTE = "/v1/auth/2fa/enroll"


class TwoFactorEnrollmentRequired(PermissionDenied):
    slug, title = "two-factor-enrollment-required", "Two-factor enrollment required"


def restriction_error(restricted: str) -> PermissionDenied:
    """The 403 for a restricted token used where its restriction does not let it in."""
    if restricted == TWO_FACTOR_ENROLLMENT:
        return TwoFactorEnrollmentRequired(
            "your agency requires two-factor sign-in for your role: until you enroll, this "
            f"token is good only for POST {TWO_FACTOR_ENROLL_ROUTE}, POST /v1/auth/2fa/confirm, "
            "GET /v1/me and POST /v1/auth/logout",
            extra={"restriction": restricted, "enroll": TWO_FACTOR_ENROLL_ROUTE},
        )
    return PermissionDenied(
        f"this token is restricted ({restricted}) and not good for this request",
        extra={"restriction": restricted},
    )


def _issued_at_ms(claims: dict[str, Any]) -> int | None:
    precise, whole = claims.get("iat_ms"), claims.get("iat")
    if isinstance(precise, int) and not isinstance(precise, bool):
        return precise
    if isinstance(whole, int | float) and not isinstance(whole, bool):
        return int(whole * 1000)
    return None


def _expires_at(claims: dict[str, Any]) -> float | None:
    exp = claims.get("exp")
    if isinstance(exp, int | float) and not isinstance(exp, bool):
        return float(exp)
    return None


class JwksVerifier:
    """Verifies access tokens; caches the key set and refetches it when an unknown `kid`
    appears (key rotation), at most once per `min_refresh_seconds`."""

    def __init__(
        self,
        jwks_url: str,
        *,
        issuer: str,
        audience: str,
        cache_seconds: float = 300.0,
        min_refresh_seconds: float = 5.0,
        leeway_seconds: int = 30,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`transport` carries the JWKS requests (default: the network), e.g. straight to
        identity's app when it runs in the same process."""
        self.jwks_url = jwks_url
        self.issuer = issuer
        self.audience = audience
        self.cache_seconds = cache_seconds
        self.min_refresh_seconds = min_refresh_seconds
        self.claims_registry = jwt.JWTClaimsRegistry(
            leeway=leeway_seconds,
            iss={"essential": True, "value": issuer},
            aud={"essential": True, "value": audience},
            exp={"essential": True},
            sub={"essential": True},
            tid={"essential": True},
            role={"essential": True},
        )
        self._keys: KeySet | None = None
        self._kids: set[str] = set()
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._http = httpx.AsyncClient(timeout=5.0, transport=transport)

    async def close(self) -> None:
        await self._http.aclose()

    async def _key_set(self, kid: str) -> KeySet:
        now = time.monotonic()
        fresh = now - self._fetched_at < self.cache_seconds
        if self._keys is not None and fresh and kid in self._kids:
            return self._keys
        async with self._lock:
            now = time.monotonic()
            stale = now - self._fetched_at >= self.cache_seconds
            may_refresh = now - self._fetched_at >= self.min_refresh_seconds
            if self._keys is None or stale or (kid not in self._kids and may_refresh):
                await self._fetch()
        assert self._keys is not None
        return self._keys

    async def _fetch(self) -> None:
        try:
            response = await self._http.get(self.jwks_url)
            response.raise_for_status()
            data = response.json()
            keys = KeySet.import_key_set(data)
        except (httpx.HTTPError, ValueError, JoseError) as exc:
            if self._keys is None:
                raise ServiceUnavailable("the token signing keys cannot be fetched") from exc
            return
        self._keys = keys
        self._kids = {str(k.get("kid")) for k in data.get("keys", [])}
        self._fetched_at = time.monotonic()

    async def verify(self, token: str) -> Principal:
        try:
            header = jws.extract_compact(token.encode()).protected
        except (JoseError, ValueError) as exc:
            raise Unauthenticated("the token is malformed") from exc
        if header.get("alg") != ALGORITHM:
            raise Unauthenticated("the token's algorithm is not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise Unauthenticated("the token names no signing key")
        keys = await self._key_set(kid)
        if kid not in self._kids:
            raise Unauthenticated("the token's signing key is unknown")
        try:
            decoded = jwt.decode(token, keys, algorithms=[ALGORITHM])
            self.claims_registry.validate(decoded.claims)
        except ExpiredTokenError as exc:
            raise Unauthenticated("the token has expired") from exc
        except (JoseError, ValueError) as exc:
            # Plain words only: the library's exception (kept in the chain) is for the logs.
            raise Unauthenticated("the token is not valid") from exc
        return principal_from_claims(decoded.claims, token)


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise Unauthenticated("an Authorization: Bearer token is required")
    scheme, _, value = authorization.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        raise Unauthenticated("the Authorization header must be 'Bearer <token>'")
    return value.strip()
