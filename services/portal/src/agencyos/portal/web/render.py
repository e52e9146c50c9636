"""Templates and the headers every page carries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.responses import HTMLResponse, Response

from agencyos.portal.web.branding import normalized_color, text_color_on
from agencyos.portal.web.context import Page

HERE = Path(__file__).parent
STATIC_DIR = HERE / "static"
STATIC_PATH = "/portal/_static"

templates = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(["html"]),
    trim_blocks=True,
    lstrip_blocks=True,
)

# Scripts and styles only from the portal's own origin (htmx and the stylesheet are served by
# it); no inline script or style anywhere, so an injected one never runs. Logos may be images
# anywhere on https (the agency's own site). Forms post to the portal only, whose Pay may lead
# on to Stripe Checkout (`content_security_policy`: htmx swaps pages into one document, so
# every page allows what any page's form needs). Never framed.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' https: data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def content_security_policy(checkout_origin: str) -> str:
    return CONTENT_SECURITY_POLICY.replace(
        "form-action 'self'", f"form-action 'self' {checkout_origin}"
    )


PAGE_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    # Same-origin requests keep their Referer (the CSRF check reads it when no Origin is
    # sent); nothing of a page's address leaves for other sites.
    "referrer-policy": "same-origin",
    # Pages show a person's projects, invoices and decisions: never stored.
    "cache-control": "no-store",
}


def money(cents: int | None, currency: str) -> str:
    """`1,234.56 EUR` (two decimals: the currencies agencies bill in)."""
    if cents is None:
        return ""
    sign = "-" if cents < 0 else ""
    whole, part = divmod(abs(cents), 100)
    return f"{sign}{whole:,}.{part:02d} {currency}"


templates.filters["money"] = money


def brand_css(color: str | None) -> str:
    brand = normalized_color(color)
    return f":root {{ --brand: {brand}; --on-brand: {text_color_on(brand)}; }}\n"


def render(
    page: Page,
    template: str,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **values: Any,
) -> Response:
    body = templates.get_template(template).render(
        base=page.base,
        static=STATIC_PATH,
        agency=page.branding,
        csrf_token=page.web_session.csrf_token if page.web_session else "",
        signed_in=page.caller is not None,
        flash=page.flash,
        **values,
    )
    response = HTMLResponse(
        body,
        status_code=status_code,
        headers={
            **PAGE_HEADERS,
            "content-security-policy": content_security_policy(page.settings.checkout_origin),
            **(headers or {}),
        },
    )
    return page.apply_cookie(response)


def with_page_headers(response: Response) -> Response:
    for name, value in PAGE_HEADERS.items():
        response.headers[name] = value
    return response
