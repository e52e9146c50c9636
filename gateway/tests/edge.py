"""What the gateway's in-process edge tests share: their settings and a raw-request sender."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

import httpx
from fastapi import FastAPI

from agencyos.gateway.openapi import SERVICES
from agencyos.gateway.settings import GatewaySettings

if TYPE_CHECKING:
    from .conftest import Upstream

ALLOWED_ORIGIN = "https://app.example.com"
AUTH_LIMIT = 3


def edge_settings(upstream: Upstream, jwks_url: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {f"{service}_url": upstream.url for service in SERVICES}
    values.update(
        jwks_url=jwks_url,
        rate_limit_backend="memory",
        rate_limit_auth_limit=AUTH_LIMIT,
        rate_limit_auth_window_seconds=60,
        cors_origins=[ALLOWED_ORIGIN],
        cors_allow_credentials=True,
    )
    values.update(overrides)
    return GatewaySettings(**values)


async def send_raw(
    app: FastAPI,
    method: str,
    target: bytes,
    headers: Iterable[tuple[str, str]] = (),
    body: bytes = b"",
) -> httpx.Response:
    """`target` as the request line's target, handed to the app the way uvicorn does
    (`raw_path` verbatim, `path` its one percent-decoding)."""
    raw_path, _, query = target.partition(b"?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": unquote(raw_path.decode("latin-1")),
        "raw_path": raw_path,
        "query_string": query,
        "root_path": "",
        "headers": [(b"host", b"gateway")]
        + [(k.lower().encode(), v.encode()) for k, v in headers]
        + ([(b"content-length", str(len(body)).encode())] if body else []),
        "client": ("198.51.100.7", 40000),
        "server": ("gateway", 80),
    }
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    content = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return httpx.Response(
        start["status"],
        headers=[(k.decode(), v.decode()) for k, v in start["headers"]],
        content=content,
    )
