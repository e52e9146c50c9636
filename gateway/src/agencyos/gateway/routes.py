"""Which service owns which path, and which paths need no token (ARCHITECTURE.md §6)."""

from __future__ import annotations

import re
from dataclasses import dataclass

# notification's stream process: an upstream of its own (GatewaySettings.stream_url), so the
# long-lived `GET /v1/stream` connections can run on pods apart from notification's API.
STREAM = "stream"
# Upstreams that run another service's code: that service's OpenAPI documents their routes.
SERVED_BY = {STREAM: "notification"}

# Longest prefix wins; a prefix matches itself and anything below it.
ROUTES: dict[str, str] = {
    "/.well-known/jwks.json": "identity",
    "/v1/auth": "identity",
    "/v1/me": "identity",
    "/v1/agency": "identity",
    "/v1/members": "identity",
    "/v1/invitations": "identity",
    "/v1/roles": "identity",
    "/v1/api-keys": "identity",
    "/v1/sessions": "identity",
    "/v1/audit-log": "identity",
    "/v1/clients": "crm",
    "/v1/pipelines": "crm",
    "/v1/deals": "crm",
    "/v1/jobs": "crm",
    "/v1/projects": "work",
    "/v1/tasks": "work",
    "/v1/project-templates": "work",
    "/v1/columns": "work",
    "/v1/subtasks": "work",
    "/v1/comments": "work",
    "/v1/milestones": "work",
    "/v1/deliverables": "work",
    "/v1/files": "work",
    "/v1/timers": "time",
    "/v1/time-entries": "time",
    "/v1/timesheets": "time",
    "/v1/reports/utilization": "time",
    "/v1/rates": "time",
    "/v1/capacity": "time",
    "/v1/invoices": "billing",
    "/v1/recurring-invoices": "billing",
    "/v1/expenses": "billing",
    "/v1/reports/profitability": "billing",
    "/v1/webhooks/stripe": "billing",
    "/v1/billing-settings": "billing",
    "/v1/subscription": "billing",
    "/v1/notifications": "notification",
    "/v1/notification-preferences": "notification",
    "/v1/email-deliveries": "notification",
    "/v1/webhook-endpoints": "notification",
    "/v1/automations": "notification",
    # The agency's event feed, and its live stream: notification's stream process (`stream`
    # mode) where one is deployed apart, else notification itself (GatewaySettings.stream_url).
    "/v1/events": "notification",
    "/v1/stream": STREAM,
    "/v1/portal": "portal",
    # The client portal's web pages (HTML): their cookie session is the credential, checked by
    # the portal itself (it keeps the client user's tokens server-side and verifies them).
    "/portal": "portal",
}

# (method, path pattern) reachable without an access token; everything else needs one.
PUBLIC: list[tuple[str, re.Pattern[str]]] = [
    ("GET", re.compile(r"^/\.well-known/jwks\.json$")),
    ("POST", re.compile(r"^/v1/auth/(signup|login|refresh|magic-link)$")),
    # The second step of a sign-in with two-factor on: its `mfa_token` is the credential.
    ("POST", re.compile(r"^/v1/auth/2fa/verify$")),
    ("POST", re.compile(r"^/v1/auth/password-reset(/confirm)?$")),
    # the emailed token is the credential (the resend needs a token: not listed)
    ("POST", re.compile(r"^/v1/auth/verify-email$")),
    # The emailed sign-in link: the GET only says whether it works (spends nothing, so a mail
    # scanner cannot use it up); the POST signs in with it.
    ("GET", re.compile(r"^/v1/auth/magic-link/verify$")),
    ("POST", re.compile(r"^/v1/auth/magic-link/verify$")),
    ("POST", re.compile(r"^/v1/invitations/[^/]+/accept$")),
    # The links emailed to people: followed with a GET, they read and spend nothing.
    ("GET", re.compile(r"^/v1/auth/password-reset/confirm$")),
    # The verification link verifies (its token works once; a GET spends it, see identity).
    ("GET", re.compile(r"^/v1/auth/verify-email$")),
    ("GET", re.compile(r"^/v1/invitations/[^/]+/accept$")),
    # Single sign-on: the browser starts at an agency's address and comes back from its
    # provider; the state (single-use, server-side) is the credential.
    ("GET", re.compile(r"^/v1/auth/sso/[a-z0-9-]+/start$")),
    ("GET", re.compile(r"^/v1/auth/sso/callback$")),
    ("POST", re.compile(r"^/v1/webhooks/stripe$")),
    # an invoice's PDF through the signed link emailed to the client (billing checks it)
    ("GET", re.compile(r"^/v1/invoices/[^/]+/document$")),
    # The link in every email (GET) and mail clients' one-click form of it (POST, RFC 8058):
    # its signed token is the credential.
    ("GET", re.compile(r"^/v1/notification-preferences/unsubscribe$")),
    ("POST", re.compile(r"^/v1/notification-preferences/unsubscribe$")),
    # The client portal's pages and their forms: no bearer token; the portal's cookie session
    # (and a CSRF token on every form) stands for the client user.
    ("GET", re.compile(r"^/portal/")),
    ("HEAD", re.compile(r"^/portal/")),
    ("POST", re.compile(r"^/portal/")),
]

# What a restricted token (its `restricted` claim) may reach; every other path answers 403
# here, before it is forwarded (the services refuse it again themselves).
RESTRICTED_ALLOWED: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    "2fa_enrollment": [
        ("POST", re.compile(r"^/v1/auth/2fa/(enroll|confirm)$")),
        ("GET", re.compile(r"^/v1/me$")),
        ("POST", re.compile(r"^/v1/auth/logout$")),
    ],
}

_BY_LENGTH = sorted(ROUTES.items(), key=lambda item: len(item[0]), reverse=True)


@dataclass(frozen=True)
class Route:
    prefix: str
    service: str


def resolve(path: str) -> Route | None:
    for prefix, service in _BY_LENGTH:
        if path == prefix or path.startswith(prefix + "/"):
            return Route(prefix, service)
    return None


def is_public(method: str, path: str) -> bool:
    return any(m == method and pattern.match(path) for m, pattern in PUBLIC)


def restricted_allows(restricted: str, method: str, path: str) -> bool:
    """Whether a token restricted to `restricted` may be sent on to `method path`."""
    allowed = RESTRICTED_ALLOWED.get(restricted, [])
    return any(m == method and pattern.match(path) for m, pattern in allowed)


def owns(service: str, path: str) -> bool:
    """Whether `service`'s code serves `path` (wherever the gateway sends it): its OpenAPI
    document is the one that describes the path."""
    route = resolve(path)
    return route is not None and SERVED_BY.get(route.service, route.service) == service
