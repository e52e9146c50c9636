"""`GET /v1/stream` through the gateway, over real sockets: the gateway served by uvicorn in
front of a real Server-Sent Events upstream (a Starlette app on uvicorn), read by a real
HTTP client. (httpx's ASGITransport hands over a response only once it is complete, so it
could not tell a relayed stream from a buffered one.)
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, StreamingResponse
from starlette.routing import Route

from agencyos.gateway.app import build_app
from agencyos.gateway.openapi import SERVICES
from agencyos.gateway.settings import GatewaySettings
from agencyos.testing.http import assert_problem
from agencyos.testing.infra import free_port
from agencyos.testing.keys import TestKeys

# Short, so that a quiet stream outlasts it many times over within a test.
UPSTREAM_TIMEOUT = 0.5
QUIET = 4 * UPSTREAM_TIMEOUT
WAIT = 10.0


def frame(cursor: str, event_type: str) -> bytes:
    data = json.dumps({"type": event_type, "cursor": cursor})
    return f"id: {cursor}\nevent: {event_type}\ndata: {data}\n\n".encode()


FIRST = frame("ev1_first", "work.task.created")
SECOND = frame("ev1_second", "work.task.updated")


@dataclass
class SseUpstream:
    """A stream service: writes FIRST, then waits for `release` before writing SECOND, and
    records what it saw (the request's headers, when it wrote, when its client went away)."""

    url: str = ""
    release: asyncio.Event = field(default_factory=asyncio.Event)
    second_written: asyncio.Event = field(default_factory=asyncio.Event)
    closed: asyncio.Event = field(default_factory=asyncio.Event)
    headers: list[dict[str, str]] = field(default_factory=list)
    # Response headers of the stream, e.g. the service's own Cache-Control.
    answer_headers: dict[str, str] = field(default_factory=dict)

    async def stream(self, request: Request) -> StreamingResponse:
        self.headers.append(dict(request.headers))

        async def frames() -> AsyncIterator[bytes]:
            try:
                yield FIRST
                await self.release.wait()
                yield SECOND
                self.second_written.set()
                await asyncio.Event().wait()  # open until the client goes
            finally:
                self.closed.set()

        return StreamingResponse(
            frames(), media_type="text/event-stream", headers=self.answer_headers
        )

    async def slow_feed(self, _: Request) -> JSONResponse:
        """An ordinary route answering later than the gateway's upstream timeout."""
        await asyncio.sleep(QUIET)
        return JSONResponse({"items": []})

    def app(self) -> Starlette:
        return Starlette(
            routes=[Route("/v1/stream", self.stream), Route("/v1/events", self.slow_feed)]
        )


@contextlib.contextmanager
def _no_signals() -> Iterator[None]:
    yield


@contextlib.asynccontextmanager
async def serving(app: Any) -> AsyncIterator[str]:
    """`app` on uvicorn on a free local port; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    server.capture_signals = _no_signals  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def sse_upstream() -> AsyncIterator[SseUpstream]:
    upstream = SseUpstream()
    async with serving(upstream.app()) as url:
        upstream.url = url
        yield upstream
        # Let the upstream server finish before it is stopped: never a stream left open.
        upstream.release.set()


def stream_settings(upstream: SseUpstream, jwks_url: str, **overrides: Any) -> GatewaySettings:
    values: dict[str, Any] = {f"{service}_url": upstream.url for service in SERVICES}
    values.update(
        jwks_url=jwks_url,
        stream_url=upstream.url,
        upstream_timeout_seconds=UPSTREAM_TIMEOUT,
        stream_read_timeout_seconds=60.0,
        rate_limit_backend="memory",
    )
    values.update(overrides)
    return GatewaySettings(**values)


@contextlib.asynccontextmanager
async def gateway_for(settings: GatewaySettings) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(settings)
    async with (
        app.router.lifespan_context(app),
        serving(app) as url,
        httpx.AsyncClient(base_url=url, timeout=WAIT) as client,
    ):
        yield client


@pytest.fixture
async def gateway(sse_upstream: SseUpstream, jwks_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with gateway_for(stream_settings(sse_upstream, jwks_url)) as client:
        yield client


@pytest.fixture
def auth(test_keys: TestKeys) -> dict[str, str]:
    return {"Authorization": f"Bearer {test_keys.mint()}"}


async def next_frame(chunks: AsyncIterator[bytes], buffer: bytearray) -> bytes:
    """The next whole SSE frame (up to its blank line) read from `chunks`."""
    while b"\n\n" not in buffer:
        buffer.extend(await asyncio.wait_for(anext(chunks), WAIT))
    end = buffer.index(b"\n\n") + 2
    head = bytes(buffer[:end])
    del buffer[:end]
    return head


class TestFramesPassThroughAsWritten:
    async def test_the_first_frame_arrives_before_the_second_is_written(
        self, gateway: httpx.AsyncClient, sse_upstream: SseUpstream, auth: dict[str, str]
    ) -> None:
        async with gateway.stream("GET", "/v1/stream", headers=auth) as response:
            assert response.status_code == 200
            chunks, buffer = response.aiter_raw(), bytearray()
            assert await next_frame(chunks, buffer) == FIRST
            assert not sse_upstream.second_written.is_set()
            sse_upstream.release.set()
            assert await next_frame(chunks, buffer) == SECOND

    async def test_the_stream_headers_tell_proxies_and_caches_not_to_hold_it(
        self, gateway: httpx.AsyncClient, auth: dict[str, str]
    ) -> None:
        async with gateway.stream("GET", "/v1/stream", headers=auth) as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            assert response.headers["x-accel-buffering"] == "no"
            assert response.headers["cache-control"] == "no-cache"
            assert "content-encoding" not in response.headers
            assert "content-length" not in response.headers

    async def test_the_last_event_id_reaches_the_service(
        self, gateway: httpx.AsyncClient, sse_upstream: SseUpstream, auth: dict[str, str]
    ) -> None:
        headers = {**auth, "Last-Event-ID": "ev1_seen", "Accept": "text/event-stream"}
        async with gateway.stream("GET", "/v1/stream?types=work.*", headers=headers) as response:
            await next_frame(response.aiter_raw(), bytearray())
        (seen,) = sse_upstream.headers
        assert seen["last-event-id"] == "ev1_seen"
        assert seen["accept"] == "text/event-stream"


class TestTimeouts:
    async def test_a_stream_quiet_for_longer_than_the_upstream_timeout_stays_open(
        self, gateway: httpx.AsyncClient, sse_upstream: SseUpstream, auth: dict[str, str]
    ) -> None:
        async with gateway.stream("GET", "/v1/stream", headers=auth) as response:
            chunks, buffer = response.aiter_raw(), bytearray()
            assert await next_frame(chunks, buffer) == FIRST
            await asyncio.sleep(QUIET)
            sse_upstream.release.set()
            assert await next_frame(chunks, buffer) == SECOND

    async def test_other_routes_keep_the_upstream_timeout(
        self, gateway: httpx.AsyncClient, auth: dict[str, str]
    ) -> None:
        response = await gateway.get("/v1/events", headers=auth)
        assert_problem(response, 504, "upstream-timeout")

    async def test_a_stream_quiet_past_the_stream_read_timeout_is_ended(
        self, sse_upstream: SseUpstream, jwks_url: str, auth: dict[str, str]
    ) -> None:
        settings = stream_settings(sse_upstream, jwks_url, stream_read_timeout_seconds=QUIET)
        async with (
            gateway_for(settings) as gateway,
            gateway.stream("GET", "/v1/stream", headers=auth) as response,
        ):
            chunks, buffer = response.aiter_raw(), bytearray()
            assert await next_frame(chunks, buffer) == FIRST
            # The gateway gives the dead-looking upstream up: the stream ends (the client
            # reconnects with Last-Event-ID) and the upstream connection is closed.
            rest = b"".join([chunk async for chunk in chunks])
            assert rest == b""
            await asyncio.wait_for(sse_upstream.closed.wait(), WAIT)


class TestDisconnect:
    async def test_a_client_going_away_closes_the_upstream_stream(
        self, gateway: httpx.AsyncClient, sse_upstream: SseUpstream, auth: dict[str, str]
    ) -> None:
        async with gateway.stream("GET", "/v1/stream", headers=auth) as response:
            assert await next_frame(response.aiter_raw(), bytearray()) == FIRST
            assert not sse_upstream.closed.is_set()
        # The client closed its connection while the upstream had nothing to write.
        await asyncio.wait_for(sse_upstream.closed.wait(), WAIT)
        assert not sse_upstream.second_written.is_set()


class TestAdmission:
    async def test_a_stream_needs_a_token(
        self, gateway: httpx.AsyncClient, sse_upstream: SseUpstream
    ) -> None:
        response = await gateway.get("/v1/stream")
        assert_problem(response, 401, "unauthenticated")
        assert sse_upstream.headers == []

    async def test_rate_limits_apply_when_a_stream_opens(
        self, sse_upstream: SseUpstream, jwks_url: str, auth: dict[str, str]
    ) -> None:
        settings = stream_settings(sse_upstream, jwks_url, rate_limit_api_user_limit=1)
        async with gateway_for(settings) as gateway:
            async with gateway.stream("GET", "/v1/stream", headers=auth) as response:
                assert response.status_code == 200
                assert response.headers["ratelimit-remaining"] == "0"
            refused = await gateway.get("/v1/stream", headers=auth)
            assert_problem(refused, 429, "rate-limited")
            assert "retry-after" in refused.headers
        assert len(sse_upstream.headers) == 1
