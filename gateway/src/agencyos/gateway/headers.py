"""Security headers on every answer the gateway gives, its own and the services' alike
(errors, 404s, 429s and proxied responses included)."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

SECURITY_HEADERS: dict[str, str] = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
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
                if "cache-control" not in headers:
                    headers["cache-control"] = DEFAULT_CACHE_CONTROL
                # Never say which server software answers (uvicorn's is off too).
                del headers["server"]
            await send(message)

        await self.app(scope, receive, send_with_headers)
