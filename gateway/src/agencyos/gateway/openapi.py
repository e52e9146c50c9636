"""The merged OpenAPI document: every service's paths that the gateway routes to it."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import httpx

from agencyos.common.logs import get_logger
from agencyos.gateway.routes import ROUTES, is_public, owns

log = get_logger(__name__)

SERVICES = sorted(set(ROUTES.values()))
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
                if method in item and not is_public(method.upper(), path):
                    item[method].setdefault("security", [{"bearerAuth": []}])
            paths[path] = item
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
