"""Security headers on every answer the gateway gives, its own and the services' alike
(errors, 404s, 429s and proxied responses included)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: dict[str, str] = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}
# Defaults a service may replace with a stricter or fuller policy of its own (the portal's
# pages send a whole CSP, frame-ancestors 'none' included, and `same-origin` referrers so
# their forms' Referer can be checked).
DEFAULT_HEADERS: dict[str, str] = {
    "content-security-policy": "frame-ancestors 'none'",
    "referrer-policy": "no-referrer",
}
# Answers carry tokens, exports, invoices and PDFs: no shared or browser cache keeps them,
# unless the service chose its own caching for a response.
DEFAULT_CACHE_CONTROL = "no-store"


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers[name] = value
                for name, value in DEFAULT_HEADERS.items():
                    if name not in headers:
                        headers[name] = value
                policy = headers["content-security-policy"]
                if "frame-ancestors" not in policy:
                    # Whatever a service's policy says, nothing of ours is ever framed.
                    headers["content-security-policy"] = f"{policy}; frame-ancestors 'none'"
                if "cache-control" not in headers:
                    headers["cache-control"] = DEFAULT_CACHE_CONTROL
                # Never say which server software answers (uvicorn's is off too).
                del headers["server"]
            await send(message)

        await self.app(scope, receive, send_with_headers)
