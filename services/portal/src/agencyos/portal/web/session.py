"""Page sessions: an opaque random cookie value; the server side in Redis, keyed by the
value's SHA-256 (a read of Redis yields no usable cookie), with a sliding expiry.

A session belongs to one agency (its slug): the cookie is path-scoped to `/portal/<slug>/`
and a session presented under another slug is not found. It holds the client user's access
and refresh tokens (never sent to the browser) and the synchronizer CSRF token its forms
carry. Signing in replaces the session (a new cookie value) so a value planted before sign-in
is worthless after it.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from dataclasses import asdict, dataclass, field
from typing import Any

from redis.asyncio import Redis

from agencyos.portal.settings import PortalSettings

COOKIE_NAME = "agencyos_portal"
KEY_PREFIX = "agencyos:portal-web:"


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass
class WebSession:
    """What the server keeps for one browser under one agency's portal."""

    slug: str
    csrf_token: str = field(default_factory=new_secret)
    # Empty until signed in.
    agency_id: str = ""
    user_id: str = ""
    client_id: str = ""
    access_token: str = ""
    refresh_token: str = ""
    # Unix time the access token stops working.
    access_expires_at: float = 0.0
    # A one-time notice shown on the next page ("Changes requested").
    flash: str = ""

    @property
    def signed_in(self) -> bool:
        return bool(self.access_token and self.refresh_token)

    def csrf_matches(self, presented: str | None) -> bool:
        return bool(presented) and hmac.compare_digest(
            self.csrf_token.encode(), (presented or "").encode()
        )

    def access_expiring(self, margin_seconds: float = 30.0) -> bool:
        return time.time() + margin_seconds >= self.access_expires_at


class SessionStore:
    """`client` is the service's shared Redis client (closed by its owner)."""

    def __init__(self, client: Redis, settings: PortalSettings) -> None:
        self.client = client
        self.idle_seconds = settings.web_session_idle_seconds
        self.anonymous_seconds = settings.web_anonymous_session_seconds
        namespace = settings.web_session_namespace
        self.prefix = KEY_PREFIX + (f"{namespace}:" if namespace else "")

    def _key(self, cookie_value: str) -> str:
        return self.prefix + hashlib.sha256(cookie_value.encode()).hexdigest()

    async def load(self, cookie_value: str | None, slug: str) -> WebSession | None:
        if not cookie_value or len(cookie_value) > 128:
            return None
        raw = await self.client.get(self._key(cookie_value))
        if raw is None:
            return None
        data: dict[str, Any] = json.loads(raw)
        web_session = WebSession(**data)
        # A session of another agency's portal is no session here.
        return web_session if web_session.slug == slug else None

    async def save(self, cookie_value: str, web_session: WebSession) -> None:
        ttl = self.idle_seconds if web_session.signed_in else self.anonymous_seconds
        await self.client.set(self._key(cookie_value), json.dumps(asdict(web_session)), ex=ttl)

    async def create(self, web_session: WebSession) -> str:
        """Store `web_session` under a new cookie value, returned."""
        cookie_value = new_secret()
        await self.save(cookie_value, web_session)
        return cookie_value

    async def delete(self, cookie_value: str) -> None:
        await self.client.delete(self._key(cookie_value))
