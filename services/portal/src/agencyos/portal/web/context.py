"""What every portal page starts from: the agency (by the URL's slug), the browser's page
session under it, and, on the pages behind sign-in, the client user it signs in as.

A signed-in page verifies the session's access token like any request (agencyos.common.auth,
revocation included) and refreshes it through identity first when it is about to expire; a
session whose tokens identity no longer honours is ended and the browser sent to sign in.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import Request
from starlette.responses import Response

from agencyos.common.errors import PermissionDenied, Unauthenticated
from agencyos.common.peers.billing import BillingClient
from agencyos.common.peers.portal_sign_in import AgencyBranding, PortalSignInClient, Refused
from agencyos.common.peers.work import WorkClient
from agencyos.common.permissions import Role
from agencyos.common.web import service_context
from agencyos.portal.permissions import ClientCaller
from agencyos.portal.settings import PortalSettings
from agencyos.portal.web.session import COOKIE_NAME, SessionStore, WebSession

# An agency's name, logo and colour change rarely: kept this long per process, so a page
# spends its gRPC calls on the client's data.
BRANDING_CACHE_SECONDS = 60.0
_brandings: dict[str, tuple[float, AgencyBranding]] = {}


class SignInRequired(Exception):
    """No usable session: the browser is sent to the slug's sign-in page."""

    def __init__(self, slug: str) -> None:
        super().__init__(slug)
        self.slug = slug


class CsrfRefused(PermissionDenied):
    """A form posted without its session's CSRF token, or from another origin."""


@dataclass
class Page:
    request: Request
    slug: str
    branding: AgencyBranding
    store: SessionStore
    settings: PortalSettings
    sign_in: PortalSignInClient
    web_session: WebSession | None
    cookie_value: str | None
    caller: ClientCaller | None = None
    # Set when the session must be sent (new, or its cookie renewed).
    set_cookie: str | None = None
    # The session's one-time notice, taken for this page (cleared when the session is saved).
    flash: str = ""

    @property
    def base(self) -> str:
        return f"/portal/{self.slug}"

    def require_caller(self) -> ClientCaller:
        if self.caller is None:
            raise SignInRequired(self.slug)
        return self.caller

    def work(self) -> WorkClient:
        return WorkClient.of(self.settings)

    def billing(self) -> BillingClient:
        return BillingClient.of(self.settings)

    async def ensure_session(self) -> WebSession:
        """The page session, made (signed out, with its CSRF token) if the browser has none."""
        if self.web_session is None:
            self.web_session = WebSession(slug=self.slug)
            self.cookie_value = await self.store.create(self.web_session)
            self.set_cookie = self.cookie_value
        return self.web_session

    async def save(self) -> None:
        if self.web_session is not None and self.cookie_value is not None:
            await self.store.save(self.cookie_value, self.web_session)

    def apply_cookie(self, response: Response) -> Response:
        if self.set_cookie is not None:
            response.set_cookie(
                COOKIE_NAME,
                self.set_cookie,
                path=f"{self.base}/",
                httponly=True,
                samesite="lax",
                secure=self.settings.cookie_secure,
                # A session cookie (gone with the browser); the server side expires anyway.
            )
        return response

    def check_form(self, presented: str | None) -> None:
        """The synchronizer token (form field or X-CSRF-Token) and the request's origin."""
        self.check_origin()
        presented = presented or self.request.headers.get("x-csrf-token")
        if self.web_session is None or not self.web_session.csrf_matches(presented):
            raise CsrfRefused("this form has expired or did not come from this portal; try again")

    def check_origin(self) -> None:
        headers = self.request.headers
        if not same_site(self.settings, headers.get("origin"), headers.get("referer")):
            raise CsrfRefused("this form was sent from another site")


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()


def same_site(settings: PortalSettings, origin: str | None, referer: str | None) -> bool:
    """Whether a form came from the portal's own pages: its Origin (browsers send one with
    every POST), else its Referer, is the public or the portal base URL's origin."""
    expected = {_origin(url) for url in (settings.public_base_url, settings.portal_base_url) if url}
    if origin is not None:
        return origin.lower() in expected
    return referer is not None and _origin(referer) in expected


async def branding_of(client: PortalSignInClient, slug: str) -> AgencyBranding:
    cached = _brandings.get(slug)
    now = time.monotonic()
    if cached is not None and now - cached[0] < BRANDING_CACHE_SECONDS:
        return cached[1]
    branding = await client.branding(slug)
    _brandings[slug] = (now, branding)
    return branding


def sign_in_client(request: Request) -> PortalSignInClient:
    client: PortalSignInClient = request.app.state.portal_sign_in
    return client


async def load_page(request: Request, slug: str, *, signed_in: bool) -> Page:
    """The page's agency and session; with `signed_in`, its client user (or SignInRequired)."""
    ctx = service_context(request)
    settings = ctx.settings
    assert isinstance(settings, PortalSettings)
    store: SessionStore = request.app.state.web_sessions
    client = sign_in_client(request)
    branding = await branding_of(client, slug)
    cookie_value = request.cookies.get(COOKIE_NAME)
    web_session = await store.load(cookie_value, slug)
    page = Page(
        request=request,
        slug=slug,
        branding=branding,
        store=store,
        settings=settings,
        sign_in=client,
        web_session=web_session,
        cookie_value=cookie_value if web_session is not None else None,
    )
    if signed_in:
        page.caller = await _caller(page)
        if page.web_session is not None and page.web_session.flash:
            page.flash, page.web_session.flash = page.web_session.flash, ""
    return page


async def _caller(page: Page) -> ClientCaller:
    web_session = page.web_session
    if web_session is None or not web_session.signed_in:
        raise SignInRequired(page.slug)
    if web_session.agency_id != str(page.branding.id):
        raise SignInRequired(page.slug)
    if web_session.access_expiring():
        outcome = await page.sign_in.refresh(web_session.refresh_token)
        if isinstance(outcome, Refused):
            await _end(page)
            raise SignInRequired(page.slug)
        web_session.access_token = outcome.access_token
        web_session.refresh_token = outcome.refresh_token
        web_session.access_expires_at = time.time() + outcome.expires_in
        await page.save()
    ctx = service_context(page.request)
    try:
        principal = await ctx.verifier.verify(web_session.access_token)
        fail_open = page.request.method in ("GET", "HEAD")
        await ctx.revocations.check(principal, fail_open=fail_open)
    except Unauthenticated:
        await _end(page)
        raise SignInRequired(page.slug) from None
    if (
        principal.role != Role.CLIENT
        or principal.client_id is None
        or principal.tenant_id != page.branding.id
        or principal.restricted is not None
    ):
        await _end(page)
        raise SignInRequired(page.slug)
    return ClientCaller(principal, principal.client_id)


async def _end(page: Page) -> None:
    if page.cookie_value is not None:
        await page.store.delete(page.cookie_value)
    page.web_session = None
    page.cookie_value = None


def parse_id(raw: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(raw)
    except ValueError:
        return None
