"""Assertions about HTTP answers that every service's tests make the same way."""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from typing import Any

import httpx

from agencyos.common.errors import PROBLEM_BASE

PROBLEM_JSON = "application/problem+json"


def assert_problem(
    response: httpx.Response, status: int, slug: str | None = None
) -> dict[str, Any]:
    """`response` is an RFC 9457 problem with `status` (and type `slug`); returns the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].split(";")[0] == PROBLEM_JSON, response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].startswith(PROBLEM_BASE)
    if slug is not None:
        assert body["type"] == PROBLEM_BASE + slug, body
    assert body["title"]
    assert body["detail"]
    return body


def problem_fields(body: dict[str, Any]) -> set[str]:
    """The field names a problem's `errors` point at."""
    return {str(error["field"]) for error in body.get("errors") or []}


def assert_invalid_fields(response: httpx.Response, *fields: str) -> dict[str, Any]:
    """A 422 problem whose `errors` name exactly `fields`."""
    body = assert_problem(response, 422, "invalid-input")
    assert problem_fields(body) == set(fields), body
    return body


def without_trace(body: dict[str, Any]) -> dict[str, Any]:
    """A problem body minus what differs per request (the trace id)."""
    return {k: v for k, v in body.items() if k != "trace_id"}


def _b64url(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def unverified_jwt(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """A compact JWT's header and claims, read WITHOUT checking the signature (to inspect)."""
    header, payload, _ = token.split(".")
    return json.loads(_b64url(header)), json.loads(_b64url(payload))


async def send_json(
    client: httpx.AsyncClient,
    headers: Mapping[str, str],
    method: str,
    path: str,
    body: Any,
) -> httpx.Response:
    """`body` sent as JSON exactly as given, with `headers` (e.g. an agency's credentials):
    `json.dumps` writes a NUL as `\\u0000` and keeps any value's type, where a typed client
    would refuse or convert what hostile-input tests need to send."""
    return await client.request(
        method,
        path,
        content=json.dumps(body).encode(),
        headers={**headers, "content-type": "application/json"},
    )
