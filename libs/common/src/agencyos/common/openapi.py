"""What a service's OpenAPI says about its errors, derived from how each route is built.

FastAPI documents only the success answer and a 422 in its own shape. Every error a service
renders is problem+json (`web.install_error_handlers`), so `document_errors` replaces FastAPI's
generator with one that post-processes its document:

- every 4xx/5xx answer, declared by hand or derived, is `application/problem+json` with the one
  shared `Problem` schema (FastAPI's `HTTPValidationError` is gone);
- what a route's construction implies is documented on it: a caller dependency (a token) → 401,
  a permission dependency (`web.require`) → 403, a path id → 404, a body → 400 (unparseable),
  any parameter or body → 422, a mutating POST behind the idempotency middleware → the
  `Idempotency-Key` header with its 409 (still in progress) and 422 (reused with another
  request).

Descriptions a route declares itself (`responses=`) are kept; only the content is filled in.
The gateway adds what it answers itself (401/429/413/503/504) when it merges the documents.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = "#/components/schemas/Problem"
_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")

PROBLEM_SCHEMAS: dict[str, Any] = {
    "Problem": {
        "title": "Problem",
        "description": "An RFC 9457 problem: every error answer of the API has this shape.",
        "type": "object",
        "required": ["type", "title", "status"],
        "properties": {
            "type": {
                "type": "string",
                "description": "A stable URI naming the kind of problem; branch on it",
            },
            "title": {"type": "string", "description": "A short summary of the kind"},
            "status": {"type": "integer", "description": "The HTTP status code"},
            "detail": {"type": "string", "description": "What went wrong this time"},
            "instance": {"type": "string", "description": "The path the problem is about"},
            "errors": {
                "type": "array",
                "description": "One entry per invalid field (422)",
                "items": {"$ref": "#/components/schemas/ProblemFieldError"},
            },
            "trace_id": {"type": "string", "description": "The trace to quote to support"},
        },
        # Some problems carry more (e.g. a stale task's `current_version`).
        "additionalProperties": True,
    },
    "ProblemFieldError": {
        "title": "ProblemFieldError",
        "type": "object",
        "required": ["field", "message", "type"],
        "properties": {
            "field": {"type": "string", "description": "Dotted path of the field, or `body`"},
            "message": {"type": "string"},
            "type": {"type": "string", "description": "A stable code for the kind of error"},
        },
    },
}

IDEMPOTENCY_KEY_PARAMETER: dict[str, Any] = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "description": (
        "Makes the POST safe to retry: a retry with the same key and request gets the first "
        "answer again (`Idempotent-Replayed: true`) and has no second effect."
    ),
    "schema": {"type": "string", "minLength": 1, "maxLength": 255},
}

_DERIVED_DESCRIPTIONS = {
    400: "The body could not be parsed (e.g. malformed JSON)",
    401: "Missing, expired or invalid access token",
    403: "The caller's role lacks the permission this operation needs",
    404: "No such resource in your agency (another agency's id answers the same)",
    409: "A request with this `Idempotency-Key` is still in progress",
    422: "Invalid input; `errors` names each invalid field",
}
_UNAUTHENTICATED_HEADERS = {
    "WWW-Authenticate": {
        "description": "The scheme to authenticate with (`Bearer`)",
        "schema": {"type": "string"},
    }
}


def problem_response(description: str, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    """An OpenAPI response object for an error answer."""
    response: dict[str, Any] = {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}},
    }
    if headers:
        response["headers"] = headers
    return response


def add_error_response(
    operation: dict[str, Any],
    status: int,
    description: str,
    headers: dict[str, Any] | None = None,
) -> None:
    """Document `status` on `operation` unless it is already (a declared description wins)."""
    responses = operation.setdefault("responses", {})
    existing = responses.get(str(status))
    if existing is None:
        responses[str(status)] = problem_response(description, headers)
    elif headers:
        existing.setdefault("headers", {}).update(
            {k: v for k, v in headers.items() if k not in existing.get("headers", {})}
        )


def as_problems(document: dict[str, Any]) -> None:
    """Every error answer of `document` becomes problem+json with the `Problem` schema."""
    for operation in operations(document):
        for status, response in operation.get("responses", {}).items():
            if status[:1] in ("4", "5"):
                response["content"] = {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_REF}}}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas.update(PROBLEM_SCHEMAS)


def operations(document: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for item in document.get("paths", {}).values():
        for method, operation in item.items():
            if method in ("get", "put", "post", "patch", "delete"):
                yield operation


def _calls(dependant: Dependant) -> Iterator[Callable[..., Any]]:
    for dependency in dependant.dependencies:
        if dependency.call is not None:
            yield dependency.call
        yield from _calls(dependency)


def _header_names(dependant: Dependant) -> set[str]:
    names = {(p.alias or p.name).lower() for p in dependant.header_params}
    for dependency in dependant.dependencies:
        names |= _header_names(dependency)
    return names


def _document_route(
    route: RouteContext, operation: dict[str, Any], *, idempotent_posts: bool
) -> None:
    # Imported here: web imports this module to install it.
    from agencyos.common.web import verified_principal

    calls = list(_calls(route.dependant))
    authenticated = verified_principal in calls
    if authenticated:
        add_error_response(operation, 401, _DERIVED_DESCRIPTIONS[401], _UNAUTHENTICATED_HEADERS)
    if any(getattr(call, "__name__", "").startswith("require_") for call in calls):
        add_error_response(operation, 403, _DERIVED_DESCRIPTIONS[403])
    if route.dependant.path_params:
        add_error_response(operation, 404, _DERIVED_DESCRIPTIONS[404])
    if operation.get("requestBody"):
        add_error_response(operation, 400, _DERIVED_DESCRIPTIONS[400])
    if operation.get("parameters") or operation.get("requestBody"):
        add_error_response(operation, 422, _DERIVED_DESCRIPTIONS[422])
        if operation["responses"]["422"].get("description") == "Validation Error":
            operation["responses"]["422"]["description"] = _DERIVED_DESCRIPTIONS[422]
    if idempotent_posts and authenticated and "POST" in (route.methods or ()):
        if "idempotency-key" not in _header_names(route.dependant):
            operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY_PARAMETER))
        add_error_response(operation, 409, _DERIVED_DESCRIPTIONS[409])
        add_error_response(operation, 422, _DERIVED_DESCRIPTIONS[422])


def document_errors(app: FastAPI, *, idempotent_posts: bool) -> None:
    """Make `app.openapi()` document every error answer as problem+json (see the module doc).
    `idempotent_posts`: the app runs the idempotency middleware on its POSTs."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        document = get_openapi(
            title=app.title,
            version=app.version,
            openapi_version=app.openapi_version,
            description=app.description,
            routes=app.routes,
        )
        for route in iter_route_contexts(app.routes):
            if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
                continue
            item = document.get("paths", {}).get(route.path_format, {})
            for method in route.methods or ():
                if method.lower() in item:
                    _document_route(route, item[method.lower()], idempotent_posts=idempotent_posts)
        as_problems(document)
        app.openapi_schema = document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
