"""The merged OpenAPI document: every service's paths that the gateway routes to it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from agencyos.common.logs import get_logger
from agencyos.common.openapi import PROBLEM_SCHEMAS, add_error_response
from agencyos.common.services import SERVICES as ALL_SERVICES
from agencyos.gateway.ratelimit import is_auth_route
from agencyos.gateway.routes import is_public, owns

log = get_logger(__name__)

SERVICES = sorted(ALL_SERVICES)
METHODS = ("get", "put", "post", "patch", "delete")


def merge(documents: dict[str, dict[str, Any]], *, version: str) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for service, doc in sorted(documents.items()):
        renames: dict[str, str] = {}
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            if name in schemas and schemas[name] != schema:
                renames[name] = f"{service}_{name}"
        for name, schema in doc.get("components", {}).get("schemas", {}).items():
            schemas[renames.get(name, name)] = _rename_refs(schema, renames)
        for path, item in doc.get("paths", {}).items():
            if not owns(service, path):
                continue
            item = _rename_refs(item, renames)
            for method in METHODS:
                if method in item:
                    document_gateway_answers(method, path, item[method])
            paths[path] = item
    schemas.update(PROBLEM_SCHEMAS)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "AgencyOS API",
            "version": version,
            "description": (
                "The public API of AgencyOS. Authenticate with `Authorization: Bearer "
                "<access token>` from `POST /v1/auth/login`. Errors are RFC 9457 "
                "problem+json; lists are `{items, total, page, per_page}`; money is integer "
                "minor units with an ISO 4217 currency."
            ),
        },
        "servers": [{"url": "/"}],
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
            },
        },
    }


_RATE_LIMIT_HEADERS: dict[str, Any] = {
    "Retry-After": {
        "description": "Seconds until a request may succeed again",
        "schema": {"type": "integer"},
    },
    "RateLimit-Limit": {
        "description": "Requests allowed in the window",
        "schema": {"type": "integer"},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the window",
        "schema": {"type": "integer"},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the window resets",
        "schema": {"type": "integer"},
    },
}


def document_gateway_answers(method: str, path: str, operation: dict[str, Any]) -> None:
    """What the gateway itself may answer for an operation, before or instead of its service:
    400 for a path it will not route or a repeated credential, 401 without a valid credential,
    403 from outside the agency's IP allowlist, and 429 past a rate limit (every authenticated
    operation, and the public auth routes, limited per IP and account), 413 for a body past
    the limit, 503/504 when the service is unreachable or too slow. (502 is never answered: a
    failing upstream connection is 503.)"""
    if is_public(method.upper(), path):
        if is_auth_route(path):
            add_error_response(
                operation,
                429,
                "Too many attempts from this IP or for this account",
                _RATE_LIMIT_HEADERS,
            )
    else:
        operation.setdefault("security", [{"bearerAuth": []}])
        add_error_response(operation, 401, "Missing, expired or invalid access token or API key")
        add_error_response(
            operation,
            403,
            "The caller's address is outside the agency's IP allowlist (`address-not-allowed`)",
        )
        add_error_response(
            operation, 429, "Too many requests for this user or API key", _RATE_LIMIT_HEADERS
        )
    # Any path can be sent in a non-canonical spelling, and any request with two Authorization
    # headers: the gateway refuses both before routing (paths.py, app.py).
    add_error_response(
        operation,
        400,
        "The path is not canonical (dot segments, an encoded '/' or '\\', an empty segment,"
        " a control character: `invalid-path`), or the request has two Authorization headers",
    )
    if "requestBody" in operation:
        add_error_response(operation, 413, "The request body is larger than the gateway accepts")
    add_error_response(operation, 503, "The service is not reachable right now")
    add_error_response(operation, 504, "The service did not answer in time")


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if not renames:
        return node
    if isinstance(node, dict):
        out = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                name = value.rsplit("/", 1)[-1]
                out[key] = value.replace(name, renames.get(name, name))
            else:
                out[key] = _rename_refs(value, renames)
        return out
    if isinstance(node, list):
        return [_rename_refs(v, renames) for v in node]
    return node


class OpenApiAggregator:
    def __init__(self, urls: dict[str, str], *, cache_seconds: float, version: str) -> None:
        self.urls = urls
        self.cache_seconds = cache_seconds
        self.version = version
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0
        self._lock = asyncio.Lock()

    async def document(self, client: httpx.AsyncClient) -> dict[str, Any]:
        async with self._lock:
            if self._cached is None or time.monotonic() - self._cached_at > self.cache_seconds:
                document = await self._build(client)
                if document["info"]["x-services-missing"]:
                    return document  # not cached: ask again next time
                self._cached, self._cached_at = document, time.monotonic()
            return self._cached

    async def _build(self, client: httpx.AsyncClient) -> dict[str, Any]:
        async def fetch(service: str) -> tuple[str, dict[str, Any] | None]:
            try:
                response = await client.get(f"{self.urls[service]}/openapi.json", timeout=5.0)
                response.raise_for_status()
                return service, response.json()
            except (httpx.HTTPError, ValueError) as exc:
                log.warning(
                    "openapi of a service is unavailable", upstream=service, error=repr(exc)
                )
                return service, None

        results = await asyncio.gather(*(fetch(s) for s in self.urls))
        documents = {s: d for s, d in results if d is not None}
        merged = merge(documents, version=self.version)
        merged["info"]["x-services-missing"] = sorted(s for s, d in results if d is None)
        return merged
