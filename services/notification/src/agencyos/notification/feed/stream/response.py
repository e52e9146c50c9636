"""The ASGI response that drives one `Connection`.

Three things race: writing the connection's frames, the client going away, and the hub
closing the connection (too slow, shutdown). The last must win even while a write is stuck
on a client that stopped reading: the write is cancelled, a final `stream.closed` is tried
for a moment, and the response ends, freeing the connection's queue at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from agencyos.notification.feed.stream import frames
from agencyos.notification.feed.stream.connection import CONTROL, EVENT, HEARTBEAT, Connection
from agencyos.notification.feed.stream.hub import StreamHub
from agencyos.notification.feed.stream.metrics import STREAM_CLOSED, STREAM_FRAMES

MEDIA_TYPE = "text/event-stream"
HEADERS = {
    "Cache-Control": "no-cache",
    # nginx (the chart's ingress) would otherwise buffer the stream.
    "X-Accel-Buffering": "no",
}
# How long a final `stream.closed` may take to go out to a client the server is dropping.
FAREWELL_SECONDS = 1.0

# The counter's children, looked up once rather than per write.
_FRAMES_SENT = {kind: STREAM_FRAMES.labels(kind) for kind in (EVENT, HEARTBEAT, CONTROL)}

CLIENT_GONE = "client"
ERROR = "error"


class EventStreamResponse(Response):
    media_type = MEDIA_TYPE

    def __init__(self, hub: StreamHub, connection: Connection, *, resume: bool) -> None:
        # Not Response.__init__: it would declare the empty body's length (0).
        self.status_code = 200
        self.background = None
        self.init_headers(HEADERS)
        self.hub = hub
        self.connection = connection
        self.resume = resume

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        connection = self.connection
        reason = CLIENT_GONE
        tasks: list[asyncio.Task[Any]] = []
        try:
            await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
            writer = asyncio.create_task(self._write(send))
            gone = asyncio.create_task(_client_gone(receive))
            ended = asyncio.create_task(connection.ended.wait())
            tasks = [writer, gone, ended]
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            await _cancel(tasks)
            if writer in done:
                reason = writer.result() or CLIENT_GONE
            elif ended in done and gone not in done:
                reason = connection.closing or frames.SHUTDOWN
                await self._farewell(send, reason)
        except OSError:
            pass  # the client went away mid-write
        except Exception:
            reason = ERROR
            raise
        finally:
            # Also when this task is cancelled (the server's grace period ran out).
            await _cancel(tasks)
            self.hub.unregister(connection)
            STREAM_CLOSED.labels(reason).inc()

    async def _write(self, send: Send) -> str | None:
        """Every frame, then the end of the body; the reason the server ended, if it did."""
        async for kind, chunk, count in self.connection.frames(self.resume):
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            _FRAMES_SENT[kind].inc(count)
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        return self.connection.ended_with

    async def _farewell(self, send: Send, reason: str) -> None:
        with contextlib.suppress(TimeoutError, OSError):
            async with asyncio.timeout(FAREWELL_SECONDS):
                await send(
                    {
                        "type": "http.response.body",
                        "body": frames.closed_frame(reason),
                        "more_body": False,
                    }
                )


async def _cancel(tasks: list[asyncio.Task[Any]]) -> None:
    pending = [task for task in tasks if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        await asyncio.wait(pending)


async def _client_gone(receive: Receive) -> None:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
