"""Forwarding a request to its service: streamed both ways, hop-by-hop headers dropped,
bounded body size, upstream failures answered as problem+json."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from fastapi import Request
from starlette.background import BackgroundTask
from starlette.responses import Response, StreamingResponse

from agencyos.common.errors import PayloadTooLarge, ServiceUnavailable, UpstreamTimeout
from agencyos.common.tracing import inject_headers

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)


# The gateway's own server writes these; the upstream's copies would be duplicates.
SET_BY_GATEWAY = frozenset({"date", "server", "x-request-id"})


class Forwarder:
    def __init__(
        self,
        *,
        timeout: float,
        connect_timeout: float,
        max_body_bytes: int,
        max_connections: int = 500,
        max_keepalive_connections: int = 100,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            # Idle upstream connections are dropped after 30 s, well before the services'
            # servers close them (75 s, agencyos.common.runtime): a connection the server
            # closes while the gateway reuses it would fail a request with 503.
            limits=httpx.Limits(
                max_connections=max_connections,
                max_keepalive_connections=max_keepalive_connections,
                keepalive_expiry=30.0,
            ),
            follow_redirects=False,
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def forward(
        self,
        request: Request,
        base_url: str,
        request_id: str,
        body: bytes | None = None,
        *,
        header_overrides: Mapping[str, str | None] | None = None,
    ) -> Response:
        """Send `request` on; `body` when the caller already read it (with `read_body`).
        `header_overrides` replaces request headers (None drops one), e.g. the credential."""
        if body is None:
            body = await self.read_body(request)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        for name, value in (header_overrides or {}).items():
            headers.pop(name.lower(), None)
            if value is not None:
                headers[name.lower()] = value
        headers["x-request-id"] = request_id
        client_host = request.client.host if request.client else ""
        prior = request.headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = f"{prior}, {client_host}" if prior else client_host
        headers.update(inject_headers())
        # Header values go on as the bytes that arrived (Starlette decodes them as Latin-1):
        # httpx would refuse a str value outside ASCII, and a service parses them itself.
        raw_headers = [(name.encode(), value.encode("latin-1")) for name, value in headers.items()]
        # The raw path, byte for byte as the gateway checked it (paths.py): a string URL would
        # be re-encoded and have its dot segments resolved by httpx.
        url = httpx.URL(base_url)
        url = url.copy_with(raw_path=url.raw_path.rstrip(b"/") + request.scope["raw_path"])
        upstream = self.client.build_request(
            request.method,
            url,
            params=request.url.query,
            headers=raw_headers,
            content=body,
        )
        try:
            response = await self.client.send(upstream, stream=True)
        except httpx.TimeoutException as exc:
            raise UpstreamTimeout("the service did not answer in time") from exc
        except httpx.TransportError as exc:
            raise ServiceUnavailable("the service is not reachable right now") from exc
        out_headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() not in SET_BY_GATEWAY
        }
        return StreamingResponse(
            response.aiter_raw(),
            status_code=response.status_code,
            headers=out_headers,
            background=BackgroundTask(response.aclose),
        )

    async def read_body(self, request: Request) -> bytes:
        """The whole body, refused (413) past `max_body_bytes`, declared or streamed."""
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise PayloadTooLarge(f"request bodies are limited to {self.max_body_bytes} bytes")
        chunks = bytearray()
        async for chunk in request.stream():
            chunks.extend(chunk)
            if len(chunks) > self.max_body_bytes:
                raise PayloadTooLarge(f"request bodies are limited to {self.max_body_bytes} bytes")
        return bytes(chunks)
