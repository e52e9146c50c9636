"""Signing keys and a real HTTP JWKS endpoint for tests of token verification."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import uvicorn
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from agencyos.testing.infra import free_port

ISSUER = "agencyos"
AUDIENCE = "agencyos-api"


class TestKeys:
    """RSA keys whose public halves are published; `mint` signs tokens with any of them."""

    __test__ = False  # not a pytest test class

    def __init__(self) -> None:
        self.published: list[RSAKey] = []
        self.current = self.add_key()

    def add_key(self) -> RSAKey:
        kid = uuid.uuid4().hex[:12]
        key = RSAKey.generate_key(2048, parameters={"kid": kid, "use": "sig", "alg": "RS256"})
        self.published.append(key)
        return key

    def jwks(self) -> dict[str, Any]:
        return dict(KeySet(list(self.published)).as_dict(private=False))

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": str(uuid.uuid4()),
            "tid": str(uuid.uuid4()),
            "role": "owner",
            "iat": now,
            "exp": now + 600,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def mint(
        self, key: RSAKey | None = None, *, header: dict[str, Any] | None = None, **claims: Any
    ) -> str:
        key = key or self.current
        protected = {"alg": "RS256", "kid": key.kid, "typ": "JWT", **(header or {})}
        return jwt.encode(protected, self.claims(**claims), key)


@contextlib.contextmanager
def _quiet() -> Iterator[None]:
    yield


@contextlib.asynccontextmanager
async def serve_jwks(keys: TestKeys) -> AsyncIterator[str]:
    """Serve `keys.jwks()` (live: keys added later are served too); yields the URL."""

    async def jwks(_: Request) -> JSONResponse:
        return JSONResponse(keys.jwks())

    app = Starlette(routes=[Route("/.well-known/jwks.json", jwks)])
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False)
    )
    server.capture_signals = _quiet  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}/.well-known/jwks.json"
    finally:
        server.should_exit = True
        await task
