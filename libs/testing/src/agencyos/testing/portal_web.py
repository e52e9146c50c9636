"""The client portal's pages as a plain HTTP client sees them (no JavaScript): a cookie jar,
the CSRF token of the last page, forms posted from the portal's own origin."""

from __future__ import annotations

import re

import httpx

from agencyos.testing.inbox import link_to, one_email
from agencyos.testing.mailpit import Mailpit
from agencyos.testing.platform import Platform

COOKIE = "agencyos_portal"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    match = _CSRF.search(html)
    assert match is not None, html[:2000]
    return match.group(1)


class PortalVisitor:
    """One browser's worth of state against `/portal/<slug>/` through the gateway."""

    def __init__(self, platform: Platform, slug: str) -> None:
        self.platform = platform
        self.slug = slug
        self.base = f"/portal/{slug}"
        self.http = httpx.AsyncClient(base_url=platform.gateway_url, timeout=30.0)
        self.csrf = ""

    async def __aenter__(self) -> PortalVisitor:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.http.aclose()

    @property
    def origin(self) -> dict[str, str]:
        return {"origin": self.platform.gateway_url}

    async def get(self, path: str) -> httpx.Response:
        response = await self.http.get(self.base + path)
        if 'name="csrf_token"' in response.text:
            self.csrf = csrf_of(response.text)
        return response

    async def post(
        self,
        path: str,
        data: dict[str, str] | None = None,
        *,
        csrf: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> httpx.Response:
        form = dict(data or {})
        token = self.csrf if csrf is None else csrf
        if token:
            form["csrf_token"] = token
        return await self.http.post(
            self.base + path, data=form, headers={**self.origin, **(headers or {})}
        )

    async def sign_in(self, mailpit: Mailpit, email: str) -> httpx.Response:
        """Ask for a link, open it from the email, press its button: the answer to that."""
        await self.get("/sign-in")
        asked = await self.post("/sign-in", {"email": email})
        assert asked.status_code == 200, asked.text
        token = await self.emailed_token(mailpit, email)
        return await self.redeem(token)

    async def emailed_token(self, mailpit: Mailpit, email: str) -> str:
        message = await one_email(mailpit, email, "sign-in link")
        path = link_to(self.platform, message, f"{self.base}/sign-in/link?token=")
        return str(httpx.URL(path).params["token"])

    async def redeem(self, token: str) -> httpx.Response:
        page = await self.http.get(f"{self.base}/sign-in/link", params={"token": token})
        assert page.status_code == 200, page.text
        self.csrf = csrf_of(page.text)
        return await self.post("/sign-in/link", {"token": token})
