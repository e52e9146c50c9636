"""The NUL guard: a JSON body holding a NUL character (which PostgreSQL text cannot store) is
refused with one 422 naming every such field, before any route reads it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agencyos.common.errors import InvalidInput, NotFound
from agencyos.common.problems import problem_response
from agencyos.common.types import contains_nul

_JSON_NUL = b"\\u0000"
MAX_GUARDED_BODY_BYTES = 10 * 1024 * 1024


def _nul_fields(value: Any, path: str) -> list[str]:
    """Where a decoded JSON document holds a NUL, as dotted field names."""
    if isinstance(value, str):
        return [path or "body"] if contains_nul(value) else []
    found: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            name = f"{path}.{key}" if path else str(key)
            if contains_nul(str(key)):
                found.append(name)
            found += _nul_fields(item, name)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _nul_fields(item, f"{path}.{index}" if path else str(index))
    return found


def _nul_problem(fields: list[str]) -> InvalidInput:
    return InvalidInput(
        f"invalid fields: {', '.join(fields)}",
        errors=[
            {
                "field": field,
                "message": "must not contain the NUL character (U+0000)",
                "type": "nul_character",
            }
            for field in fields
        ],
    )


class NulGuardMiddleware:
    """A safety net under the typed fields (agencyos.common.types): a NUL in a query value,
    a JSON string or the path is answered 422 (404 for the path) before any route runs, so
    one string field that is not typed yet never reaches PostgreSQL, which refuses NUL in text
    (a 500). Bodies are decoded only when they hold an escaped NUL at all."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        if contains_nul(path):
            await problem_response(NotFound("no such resource"))(scope, receive, send)
            return
        query = scope.get("query_string", b"").decode("latin-1")
        if "%00" in query or contains_nul(query):
            fields = [
                f"query.{key}"
                for key, value in parse_qsl(query, keep_blank_values=True)
                if contains_nul(key) or contains_nul(value)
            ]
            if fields:
                await problem_response(_nul_problem(fields), path)(scope, receive, send)
                return
        content_type = Headers(scope=scope).get("content-type", "")
        if scope["method"] in ("GET", "HEAD", "DELETE") or "json" not in content_type:
            await self.app(scope, receive, send)
            return
        body = bytearray()
        more_body = True
        while more_body and len(body) <= MAX_GUARDED_BODY_BYTES:
            message = await receive()
            if message["type"] != "http.request":
                more_body = False
                break
            body.extend(message.get("body", b""))
            more_body = message.get("more_body", False)
        if _JSON_NUL in body:
            try:
                fields = _nul_fields(json.loads(body), "")
            except ValueError:
                fields = []  # not JSON after all: the route's own parsing answers
            if fields:
                await problem_response(_nul_problem(fields), path)(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": more_body}
            return await receive()

        await self.app(scope, replay, send)
