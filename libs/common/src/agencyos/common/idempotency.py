"""`Idempotency-Key` for mutating POSTs (ARCHITECTURE.md §6).

The first request with a key runs and its response (any status below 500) is stored; a retry
with the same key and the same request gets the stored response again (`Idempotent-Replayed:
true`) and has no second effect; the same key with a different request is refused (422), and a
retry while the first is still running gets 409. Keys are scoped to the caller (agency and
user), so one caller can never replay another's response.

A response marked `Cache-Control: no-store` (one that shows a secret once: a new API key, a
webhook signing secret) is never kept: the key remembers that the request was done and where
its result is (`Location`), and a retry is a 409 saying so, with no second effect and no copy
of the secret at rest.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from sqlalchemy import text
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agencyos.common.auth import Principal, bearer_token
from agencyos.common.errors import AppError, Conflict, InvalidInput, PayloadTooLarge

MAX_KEY_LENGTH = 255
# Visible ASCII only: the key is stored as text (PostgreSQL refuses NUL) and shown in logs.
_KEY = re.compile(rf"^[\x21-\x7e]{{1,{MAX_KEY_LENGTH}}}$")
MAX_BODY_BYTES = 10 * 1024 * 1024
_REPLAYED_HEADERS = ("content-type", "location", "cache-control")


class IdempotencyMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # Lifespan scopes have no headers: check the type before reading any.
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        key = headers.get("idempotency-key")
        if key is None:
            await self.app(scope, receive, send)
            return
        ctx = scope["app"].state.ctx
        try:
            if not _KEY.match(key):
                raise InvalidInput(
                    f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} visible ASCII characters",
                    errors=[
                        {
                            "field": "Idempotency-Key",
                            "message": "1 to 255 visible ASCII characters (no spaces or "
                            "control characters)",
                            "type": "header_format",
                        }
                    ],
                )
            body = await _read_body(receive)
            principal: Principal = await ctx.verifier.verify(
                bearer_token(headers.get("authorization"))
            )
        except AppError as error:
            await _send_problem(send, error)
            return
        request_hash = hashlib.sha256(
            b"\n".join([scope["path"].encode(), scope.get("query_string", b""), body])
        ).hexdigest()
        db = ctx.database()
        ident = {"tenant": principal.tenant_id, "principal": principal.user_id, "key": key}
        async with db.transaction(principal.tenant_id) as session:
            claimed = (
                await session.execute(
                    text(
                        "INSERT INTO idempotency_keys (tenant_id, principal_id, key, "
                        "request_hash, state) VALUES (:tenant, :principal, :key, :hash, "
                        "'in_progress') ON CONFLICT DO NOTHING RETURNING key"
                    ),
                    {**ident, "hash": request_hash},
                )
            ).first()
            existing = None
            if claimed is None:
                existing = (
                    await session.execute(
                        text(
                            "SELECT request_hash, state, response_status, response_headers, "
                            "response_body FROM idempotency_keys WHERE tenant_id = :tenant "
                            "AND principal_id = :principal AND key = :key"
                        ),
                        ident,
                    )
                ).first()
        if existing is not None:
            if existing.request_hash != request_hash:
                await _send_problem(
                    send,
                    InvalidInput("this Idempotency-Key was used with a different request"),
                )
            elif existing.state != "completed":
                await _send_problem(
                    send, Conflict("a request with this Idempotency-Key is still in progress")
                )
            else:
                await _replay(send, existing)
            return

        captured: dict[str, Any] = {"status": 500, "headers": {}, "body": bytearray()}

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                captured["status"] = message["status"]
                captured["headers"] = {
                    k.decode().lower(): v.decode()
                    for k, v in message.get("headers", [])
                    if k.decode().lower() in _REPLAYED_HEADERS
                }
            elif message["type"] == "http.response.body":
                captured["body"].extend(message.get("body", b""))
            await send(message)

        sent_body = False

        async def replay_body() -> Message:
            nonlocal sent_body
            if not sent_body:
                sent_body = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        try:
            await self.app(scope, replay_body, capture)
        finally:
            async with db.transaction(principal.tenant_id) as session:
                if captured["status"] >= 500:
                    await session.execute(
                        text(
                            "DELETE FROM idempotency_keys WHERE tenant_id = :tenant "
                            "AND principal_id = :principal AND key = :key"
                        ),
                        ident,
                    )
                else:
                    if _withheld(captured["headers"]):
                        captured["body"] = bytearray()
                    await session.execute(
                        text(
                            "UPDATE idempotency_keys SET state = 'completed', "
                            "response_status = :status, response_headers = "
                            "CAST(:headers AS jsonb), response_body = :body "
                            "WHERE tenant_id = :tenant AND principal_id = :principal "
                            "AND key = :key"
                        ),
                        {
                            **ident,
                            "status": captured["status"],
                            "headers": json.dumps(captured["headers"]),
                            "body": bytes(captured["body"]),
                        },
                    )


async def _read_body(receive: Receive) -> bytes:
    chunks = bytearray()
    while True:
        message = await receive()
        chunks.extend(message.get("body", b""))
        if len(chunks) > MAX_BODY_BYTES:
            raise PayloadTooLarge("the request body is too large")
        if not message.get("more_body", False):
            return bytes(chunks)


def _withheld(headers: dict[str, str]) -> bool:
    return "no-store" in headers.get("cache-control", "").lower()


async def _replay(send: Send, row: Any) -> None:
    if _withheld(row.response_headers or {}):
        location = (row.response_headers or {}).get("location")
        await _send_problem(
            send,
            Conflict(
                "this request was already done with this Idempotency-Key; its answer showed a "
                "secret once and is not kept" + (f" (the result: {location})" if location else ""),
                headers={"location": location} if location else {},
            ),
        )
        return
    headers = [(k.encode(), v.encode()) for k, v in (row.response_headers or {}).items()]
    headers.append((b"idempotent-replayed", b"true"))
    await send({"type": "http.response.start", "status": row.response_status, "headers": headers})
    await send({"type": "http.response.body", "body": row.response_body or b""})


async def _send_problem(send: Send, error: AppError) -> None:
    body = json.dumps(error.problem()).encode()
    headers = [(b"content-type", b"application/problem+json")]
    headers += [(k.lower().encode(), v.encode()) for k, v in error.headers.items()]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
