"""Fixtures of the gateway tests."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis

from agencyos.gateway.app import build_app
from agencyos.testing.keys import TestKeys
from agencyos.testing.platform import redis_url

from . import edge


@pytest.fixture
async def redis() -> AsyncIterator[Redis]:
    """A client of the local stack's Redis."""
    client = Redis.from_url(redis_url())
    yield client
    await client.aclose()


@dataclass
class Received:
    """One request as it arrived on the wire at the upstream."""

    method: str
    target: bytes
    headers: list[tuple[str, str]]


@dataclass
class Upstream:
    """A real HTTP/1.1 server standing in for every service: records each request line byte
    for byte (no framework in between to decode or normalise it) and answers 200 JSON."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    # Extra headers on every answer, e.g. a service's own Cache-Control.
    answer_headers: dict[str, str] = field(default_factory=dict)

    @property
    def targets(self) -> list[bytes]:
        return [r.target for r in self.received]

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                request_line, *header_lines = head.decode("latin-1").split("\r\n")
                method, target, _ = request_line.split(" ", 2)
                headers = [
                    (name.strip().lower(), value.strip())
                    for name, _, value in (line.partition(":") for line in header_lines if line)
                ]
                length = int(dict(headers).get("content-length", "0"))
                if length:
                    await reader.readexactly(length)
                self.received.append(Received(method, target.encode("latin-1"), headers))
                body = json.dumps({"seen": target}).encode()
                extra = "".join(f"{k}: {v}\r\n" for k, v in self.answer_headers.items())
                writer.write(
                    b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nserver: upstream\r\n"
                    + extra.encode()
                    + f"content-length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


@pytest.fixture
async def upstream() -> AsyncIterator[Upstream]:
    recorder = Upstream()
    server = await asyncio.start_server(recorder.handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    recorder.url = f"http://127.0.0.1:{port}"
    yield recorder
    server.close()


# The in-process edge tests (test_edge*.py): the gateway app in front of `upstream`.
@pytest.fixture
async def gateway_app(upstream: Upstream, jwks_url: str) -> AsyncIterator[FastAPI]:
    app = build_app(edge.edge_settings(upstream, jwks_url))
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def client(gateway_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=gateway_app, client=("198.51.100.7", 40000))
    async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as http:
        yield http


@pytest.fixture
def token(test_keys: TestKeys) -> str:
    return test_keys.mint()
