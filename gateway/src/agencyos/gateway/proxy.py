"""Forwarding a request to its service: streamed both ways, hop-by-hop headers dropped,
bounded body size, upstream failures answered as problem+json.

Answers are relayed as they arrive, chunk by chunk, never buffered: that is what lets
`GET /v1/stream` (Server-Sent Events) through. Streams get a connection pool and a read
timeout of their own (`stream=True`), and their upstream is closed the moment the client goes.
"""

from __future__ import annotations

from collections.abc import Mapping
from http.cookiejar import CookieJar
from typing import Any

import anyio
import httpx
from fastapi import Request
from prometheus_client import Counter
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from agencyos.common.actor_context import CLIENT_IP_HEADER
from agencyos.common.errors import PayloadTooLarge, ServiceUnavailable, UpstreamTimeout
from agencyos.common.logs import get_logger
from agencyos.common.tracing import PROPAGATION_HEADERS, inject_headers

log = get_logger(__name__)

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

EVENT_STREAM = "text/event-stream"

UPSTREAM_ERRORS = Counter(
    "agencyos_gateway_upstream_errors_total",
    "Requests the gateway could not forward, by route prefix and reason (timeout, "
    "unreachable, pool_full)",
    ["upstream", "reason"],
)


class _KeepNoCookies(CookieJar):
    """The gateway relays a service's Set-Cookie to the browser and keeps none itself: a jar
    of its own (httpx keeps one per client) would send one person's cookie on with everyone's
    later requests to that service."""

    def extract_cookies(self, response: Any, request: Any) -> None:
        return None

    def set_cookie(self, cookie: Any) -> None:
        return None


class Forwarder:
    def __init__(
        self,
        *,
        timeout: float,
        connect_timeout: float,
        max_body_bytes: int,
        stream_read_timeout: float | None = None,
        stream_max_connections: int = 10_000,
    ) -> None:
        self.max_body_bytes = max_body_bytes
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            # Idle upstream connections are dropped after 30 s, well before the services'
            # servers close them (75 s, agencyos.common.runtime): a connection the server
            # closes while the gateway reuses it would fail a request with 503.
            limits=httpx.Limits(
                max_connections=500, max_keepalive_connections=100, keepalive_expiry=30.0
            ),
            follow_redirects=False,
            cookies=_KeepNoCookies(),
        )
        # Streams hold their upstream connection for as long as the client listens: a pool of
        # their own, so open streams never starve ordinary requests of connections, and a read
        # timeout far past the service's 15 s heartbeat (only a dead upstream goes that quiet).
        # A full pool answers 503 at once (pool timeout = connect timeout) rather than queueing.
        self.stream_client = httpx.AsyncClient(
            timeout=httpx.Timeout(
                timeout, connect=connect_timeout, read=stream_read_timeout, pool=connect_timeout
            ),
            limits=httpx.Limits(
                max_connections=stream_max_connections,
                max_keepalive_connections=100,
                keepalive_expiry=30.0,
            ),
            follow_redirects=False,
            cookies=_KeepNoCookies(),
        )

    async def close(self) -> None:
        await self.client.aclose()
        await self.stream_client.aclose()

    async def forward(
        self,
        request: Request,
        base_url: str,
        request_id: str,
        body: bytes | None = None,
        *,
        header_overrides: Mapping[str, str | None] | None = None,
        stream: bool = False,
        client_ip: str | None = None,
    ) -> Response:
        """Send `request` on; `body` when the caller already read it (with `read_body`).
        `header_overrides` replaces request headers (None drops one), e.g. the credential.
        `stream`: a long-lived answer (`GET /v1/stream`), sent through the stream pool.
        `client_ip`: the client's address as the gateway decided it (`clientip.client_ip`),
        sent as `x-agencyos-client-ip`; whatever the caller sent under that name is dropped."""
        if body is None:
            body = await self.read_body(request)
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        for name, value in (header_overrides or {}).items():
            headers.pop(name.lower(), None)
            if value is not None:
                headers[name.lower()] = value
        headers["x-request-id"] = request_id
        headers.pop(CLIENT_IP_HEADER, None)
        if client_ip:
            headers[CLIENT_IP_HEADER] = client_ip
        client_host = request.client.host if request.client else ""
        prior = request.headers.get("x-forwarded-for")
        headers["x-forwarded-for"] = f"{prior}, {client_host}" if prior else client_host
        # The trace context and baggage are the gateway's own, never what the client sent
        # (app.py: the edge starts every trace), so a client can neither join nor steer one.
        for name in PROPAGATION_HEADERS:
            headers.pop(name, None)
        headers.update(inject_headers())
        # Header values go on as the bytes that arrived (Starlette decodes them as Latin-1):
        # httpx would refuse a str value outside ASCII, and a service parses them itself.
        raw_headers = [(name.encode(), value.encode("latin-1")) for name, value in headers.items()]
        # The raw path, byte for byte as the gateway checked it (paths.py): a string URL would
        # be re-encoded and have its dot segments resolved by httpx.
        url = httpx.URL(base_url)
        url = url.copy_with(raw_path=url.raw_path.rstrip(b"/") + request.scope["raw_path"])
        client = self.stream_client if stream else self.client
        upstream = client.build_request(
            request.method,
            url,
            params=request.url.query,
            headers=raw_headers,
            content=body,
        )
        upstream_name = str(request.scope.get("agencyos.route", "")) or "unrouted"
        try:
            response = await client.send(upstream, stream=True)
        except httpx.PoolTimeout as exc:
            UPSTREAM_ERRORS.labels(upstream_name, "pool_full").inc()
            if stream:
                raise ServiceUnavailable(
                    "too many streams are open through the gateway right now; retry shortly"
                ) from exc
            raise UpstreamTimeout("the service did not answer in time") from exc
        except httpx.TimeoutException as exc:
            UPSTREAM_ERRORS.labels(upstream_name, "timeout").inc()
            raise UpstreamTimeout("the service did not answer in time") from exc
        except httpx.TransportError as exc:
            UPSTREAM_ERRORS.labels(upstream_name, "unreachable").inc()
            raise ServiceUnavailable("the service is not reachable right now") from exc
        out_headers = {
            k: v
            for k, v in response.headers.items()
            if k.lower() not in HOP_BY_HOP and k.lower() not in SET_BY_GATEWAY
        }
        if response.headers.get("content-type", "").startswith(EVENT_STREAM):
            # Every proxy in front of the gateway must pass each event on as it comes
            # (ingress-nginx honours X-Accel-Buffering), and no cache may keep a stream.
            out_headers["x-accel-buffering"] = "no"
            out_headers.setdefault("cache-control", "no-cache")
        return UpstreamResponse(response, out_headers)

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


class UpstreamResponse(Response):
    """An upstream answer relayed as it arrives: each chunk is sent on the moment it is read.

    The client's disconnect is listened for all along, whatever ASGI version the server speaks
    (Starlette's StreamingResponse stops listening from spec 2.4 on and then notices a gone
    client only at its next write, which on a quiet stream may never come), and the upstream
    response is closed on every way out: end, disconnect, error or cancellation (shutdown).
    """

    def __init__(self, upstream: httpx.Response, headers: Mapping[str, str]) -> None:
        self.upstream = upstream
        self.status_code = upstream.status_code
        self.background = None
        self.init_headers(headers)
        self.is_event_stream = upstream.headers.get("content-type", "").startswith(EVENT_STREAM)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as relaying:

                async def relay() -> None:
                    await self._relay(send)
                    relaying.cancel_scope.cancel()

                relaying.start_soon(relay)
                while (await receive())["type"] != "http.disconnect":
                    pass
                relaying.cancel_scope.cancel()
        except BaseExceptionGroup as group:
            # The one error of the relay, as itself (the server logs it, as before).
            if len(group.exceptions) == 1:
                raise group.exceptions[0] from None
            raise
        finally:
            with anyio.CancelScope(shield=True):
                await self.upstream.aclose()

    async def _relay(self, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": self.status_code, "headers": self.raw_headers}
        )
        try:
            async for chunk in self.upstream.aiter_raw():
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
        except httpx.TransportError as exc:
            log.warning(
                "upstream failed mid-response",
                error=repr(exc),
                event_stream=self.is_event_stream,
            )
            if not self.is_event_stream:
                # The server then aborts the connection: a cut body must never look complete.
                raise
            # A stream has no complete form: ending it is what the client expects of a lost
            # stream, and it reconnects with Last-Event-ID.
        except OSError:
            return  # the client is gone (a server of ASGI spec 2.4 says so on send)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
