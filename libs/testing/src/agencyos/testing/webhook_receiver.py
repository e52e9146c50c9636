"""A real HTTP server that receives webhooks in tests (uvicorn in a thread of the test
process), for the delivery worker to reach over the network like any partner's endpoint.

It listens on 127.0.0.2 by default: tests allow that one address as a private destination
(`AGENCYOS_NOTIFICATION_WEBHOOK_ALLOWED_PRIVATE_NETWORKS=["127.0.0.2/32"]`), so 127.0.0.1,
`localhost` and every other private address stay refused, as in production.

Each path answers what the test scripted (`answer`, `script`): a status, a body, a delay, a
redirect. Every request is recorded with its exact body and headers.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import uvicorn
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Receive, Scope, Send

from agencyos.testing.infra import free_port

RECEIVER_HOST = "127.0.0.2"


@dataclass(frozen=True)
class Answer:
    status: int = 200
    body: bytes = b"ok"
    delay: float = 0.0
    location: str | None = None  # a redirect's target
    content_type: str = "text/plain"


@dataclass(frozen=True)
class ReceivedRequest:
    method: str
    path: str
    headers: Mapping[str, str]
    body: bytes
    received_at: float  # time.monotonic()


@dataclass
class _Path:
    default: Answer = field(default_factory=Answer)
    scripted: deque[Answer] = field(default_factory=deque)


class WebhookReceiver:
    def __init__(self, host: str = RECEIVER_HOST, port: int | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._paths: dict[str, _Path] = {}
        self._received: list[ReceivedRequest] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    # --- what the test controls ---

    def url(self, path: str = "/hook") -> str:
        return f"http://{self.host}:{self.port}{path}"

    def answer(self, path: str, answer: Answer) -> None:
        """Every request to `path` gets `answer` (after any scripted ones)."""
        with self._lock:
            self._paths.setdefault(path, _Path()).default = answer

    def script(self, path: str, answers: Iterable[Answer | int]) -> None:
        """The next requests to `path` get these answers, in order (an int is a status)."""
        with self._lock:
            entry = self._paths.setdefault(path, _Path())
            for item in answers:
                entry.scripted.append(Answer(status=item) if isinstance(item, int) else item)

    def received(self, path: str | None = None) -> list[ReceivedRequest]:
        with self._lock:
            return [r for r in self._received if path is None or r.path == path]

    async def wait_for(
        self, path: str, count: int = 1, *, timeout: float = 30.0
    ) -> list[ReceivedRequest]:
        """At least `count` requests to `path`, waiting up to `timeout` seconds for them."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.received(path)
            if len(got) >= count:
                return got
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{path} received {len(got)} requests within {timeout}s, expected {count}"
                )
            await asyncio.sleep(0.05)

    # --- the server ---

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        body = await request.body()
        path = request.url.path
        with self._lock:
            self._received.append(
                ReceivedRequest(
                    method=request.method,
                    path=path,
                    headers={k.lower(): v for k, v in request.headers.items()},
                    body=body,
                    received_at=time.monotonic(),
                )
            )
            entry = self._paths.setdefault(path, _Path())
            answer = entry.scripted.popleft() if entry.scripted else entry.default
        if answer.delay:
            await asyncio.sleep(answer.delay)
        headers = {"location": answer.location} if answer.location else None
        response = Response(
            answer.body, status_code=answer.status, headers=headers, media_type=answer.content_type
        )
        await response(scope, receive, send)

    def start(self) -> WebhookReceiver:
        config = uvicorn.Config(
            self._app,
            host=self.host,
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            interface="asgi3",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError(f"the webhook receiver did not start on {self.url('')}")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
