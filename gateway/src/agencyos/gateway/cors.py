"""CORS for browser frontends on other origins.

Origins are listed per deployment (`AGENCYOS_GATEWAY_CORS_ORIGINS`, exact `scheme://host[:port]`
values; `*` admits any origin, never with credentials). A preflight from a listed origin is
answered here (204), before authentication and rate limits, and cached by the browser for
`max_age` seconds; a preflight from any other origin is refused (403 problem+json, no
`Access-Control-Allow-Origin`). Credentials (`Access-Control-Allow-Credentials: true`) are
allowed only when enabled, and only for an origin listed by name.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.datastructures import Headers, MutableHeaders
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agencyos.common.errors import PermissionDenied
from agencyos.common.problems import problem_response

ALLOWED_HEADERS = (
    "authorization",
    "content-type",
    "idempotency-key",
    "if-match",
    "if-none-match",
    "x-request-id",
)
EXPOSED_HEADERS = (
    "x-request-id",
    "location",
    "etag",
    "retry-after",
    "content-disposition",
    "ratelimit-limit",
    "ratelimit-remaining",
    "ratelimit-reset",
)


class CorsMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        origins: Sequence[str],
        methods: Sequence[str],
        allow_credentials: bool,
        max_age_seconds: int,
    ) -> None:
        self.app = app
        self.any_origin = "*" in origins
        self.origins = frozenset(o.rstrip("/") for o in origins if o != "*")
        self.methods = frozenset(m.upper() for m in methods)
        self.allow_credentials = allow_credentials
        self.preflight_headers = {
            "access-control-allow-methods": ", ".join(methods),
            "access-control-allow-headers": ", ".join(ALLOWED_HEADERS),
            "access-control-max-age": str(max_age_seconds),
        }

    def _origin_headers(self, origin: str) -> dict[str, str] | None:
        """The headers admitting `origin`, or None when it is not allowed."""
        if origin in self.origins:
            headers = {"access-control-allow-origin": origin}
            if self.allow_credentials:
                headers["access-control-allow-credentials"] = "true"
            return headers
        if self.any_origin:
            return {"access-control-allow-origin": "*"}
        return None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_headers = Headers(scope=scope)
        origin = request_headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        admitted = self._origin_headers(origin)
        method = request_headers.get("access-control-request-method")
        if scope["method"] == "OPTIONS" and method is not None:
            await self._preflight(admitted, method, request_headers)(scope, receive, send)
            return

        async def send_with_cors(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.add_vary_header("Origin")
                if admitted is not None:
                    headers.update(admitted)
                    headers["access-control-expose-headers"] = ", ".join(EXPOSED_HEADERS)
            await send(message)

        await self.app(scope, receive, send_with_cors)

    def _preflight(
        self, admitted: dict[str, str] | None, method: str, headers: Headers
    ) -> Response:
        if admitted is None:
            return problem_response(PermissionDenied("this origin may not call the API"))
        if method.upper() not in self.methods:
            return problem_response(PermissionDenied(f"the method {method} is not allowed"))
        requested = {
            h.strip().lower()
            for h in headers.get("access-control-request-headers", "").split(",")
            if h.strip()
        }
        refused = sorted(requested - set(ALLOWED_HEADERS))
        if refused:
            return problem_response(
                PermissionDenied(f"these headers are not allowed: {', '.join(refused)}")
            )
        response = Response(status_code=204, headers={**admitted, **self.preflight_headers})
        response.headers.add_vary_header("Origin")
        return response
