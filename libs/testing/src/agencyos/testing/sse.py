"""Reading server-sent event streams in tests: a parser over an httpx streaming response
(through the gateway or any real server), and an httpx transport that streams an ASGI app's
answer as it is written (httpx's own ASGITransport waits for the whole body, which an event
stream never finishes).

The transport hands over one chunk at a time: a reader that stops reading makes the app's next
write wait, as a stalled TCP peer does — what the slow-client rule is about.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
from starlette.types import ASGIApp, Message


@dataclass(frozen=True)
class SseEvent:
    """One dispatched event: `event` its type, `id` its id (None when it set none)."""

    event: str
    data: str
    id: str | None = None

    def json(self) -> Any:
        return json.loads(self.data)


@dataclass
class EventStream:
    """An open stream: `next()` answers the next event (comments are kept in `comments`)."""

    response: httpx.Response
    comments: list[str] = field(default_factory=list)
    received: list[SseEvent] = field(default_factory=list)
    ended: bool = False
    _chunks: AsyncIterator[bytes] | None = None
    _buffer: bytes = b""

    @property
    def status_code(self) -> int:
        return self.response.status_code

    async def _line(self) -> bytes | None:
        if self._chunks is None:
            self._chunks = self.response.aiter_raw()
        while b"\n" not in self._buffer:
            try:
                chunk = await anext(self._chunks)
            except (StopAsyncIteration, httpx.ReadError, httpx.RemoteProtocolError):
                self.ended = True
                return None
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.rstrip(b"\r")

    async def _next(self, comment: str | None = None) -> SseEvent | str | None:
        """The next event (None at the end), or `comment` when that comment comes first."""
        event, event_id = "message", None
        data: list[str] = []
        seen_field = False
        while True:
            raw = await self._line()
            if raw is None:
                return None
            line = raw.decode()
            if not line:
                if seen_field:
                    found = SseEvent(event, "\n".join(data), event_id)
                    self.received.append(found)
                    return found
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                if comment is not None and line[1:].strip() == comment:
                    return comment
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            seen_field = True
            if name == "event":
                event = value
            elif name == "data":
                data.append(value)
            elif name == "id":
                event_id = value

    async def _event(self) -> SseEvent | None:
        found = await self._next()
        assert not isinstance(found, str)
        return found

    async def next(self, timeout: float = 10.0) -> SseEvent:
        """The next event; fails the test if none comes within `timeout` or the stream ends."""
        try:
            async with asyncio.timeout(timeout):
                found = await self._event()
        except TimeoutError:
            raise AssertionError(f"no event within {timeout}s") from None
        if found is None:
            raise AssertionError("the stream ended")
        return found

    async def next_or_end(self, timeout: float = 10.0) -> SseEvent | None:
        """The next event, or None when the stream ends first."""
        async with asyncio.timeout(timeout):
            return await self._event()

    async def until(
        self, done: Callable[[SseEvent], bool], timeout: float = 10.0
    ) -> list[SseEvent]:
        """The events read until one satisfies `done` (included)."""
        got: list[SseEvent] = []
        async with asyncio.timeout(timeout):
            while True:
                found = await self._event()
                if found is None:
                    raise AssertionError(f"the stream ended after {[e.event for e in got]}")
                got.append(found)
                if done(found):
                    return got

    async def ready(self, timeout: float = 10.0) -> SseEvent:
        """Read up to the `ready` event; answers it."""
        return (await self.until(lambda e: e.event == "ready", timeout))[-1]

    async def comment(self, text: str, timeout: float = 10.0) -> list[SseEvent]:
        """Read until the comment `text` (e.g. "heartbeat"); answers the events before it."""
        got: list[SseEvent] = []
        async with asyncio.timeout(timeout):
            while True:
                found = await self._next(text)
                if found is None:
                    raise AssertionError(f"the stream ended before the comment {text!r}")
                if isinstance(found, str):
                    return got
                got.append(found)

    async def rest(self, timeout: float = 10.0) -> list[SseEvent]:
        """Every event until the stream ends."""
        got: list[SseEvent] = []
        async with asyncio.timeout(timeout):
            while (found := await self._event()) is not None:
                got.append(found)
        return got


@contextlib.asynccontextmanager
async def open_stream(
    client: httpx.AsyncClient,
    path: str = "/v1/stream",
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    timeout: float = 60.0,
) -> AsyncIterator[EventStream]:
    """`GET path` as a stream; the response is closed (the client goes away) on exit."""
    request = client.build_request(
        "GET",
        path,
        headers={"Accept": "text/event-stream", **(headers or {})},
        params=params,
        timeout=httpx.Timeout(timeout),
    )
    response = await client.send(request, stream=True)
    try:
        yield EventStream(response)
    finally:
        await response.aclose()


class _StreamedBody(httpx.AsyncByteStream):
    def __init__(
        self, chunks: asyncio.Queue[bytes | None], task: asyncio.Task[None], gone: asyncio.Event
    ) -> None:
        self.chunks = chunks
        self.task = task
        self.gone = gone

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (chunk := await self.chunks.get()) is not None:
            yield chunk

    async def aclose(self) -> None:
        self.gone.set()
        try:
            async with asyncio.timeout(5.0):
                await asyncio.shield(self.task)
        except (TimeoutError, Exception):
            self.task.cancel()
            await asyncio.gather(self.task, return_exceptions=True)


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Calls an ASGI app in this event loop and streams its answer chunk by chunk; closing
    the response tells the app the client went away (`http.disconnect`)."""

    def __init__(self, app: ASGIApp, client: tuple[str, int] = ("127.0.0.1", 123)) -> None:
        self.app = app
        self.client = client

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.3"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "client": self.client,
            "server": (request.url.host, request.url.port or 80),
        }
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue(maxsize=1)
        gone = asyncio.Event()
        started = asyncio.Event()
        answer: dict[str, Any] = {}
        body_sent = False

        async def receive() -> Message:
            nonlocal body_sent
            if not body_sent:
                body_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
                answer["headers"] = message.get("headers", [])
                started.set()
            elif message["type"] == "http.response.body":
                if gone.is_set():
                    return
                chunk = message.get("body", b"")
                if chunk:
                    await chunks.put(chunk)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            finally:
                if started.is_set() and not gone.is_set():
                    await chunks.put(None)

        task = asyncio.create_task(run())
        waiter = asyncio.create_task(started.wait())
        await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
        if not started.is_set():
            waiter.cancel()
            task.result()  # the app's error, if it raised
            raise RuntimeError("the app returned without answering")
        return httpx.Response(
            answer["status"],
            headers=answer["headers"],
            stream=_StreamedBody(chunks, task, gone),
            request=request,
        )
