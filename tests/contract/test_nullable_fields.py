"""A request field the OpenAPI marks nullable accepts null, and one it does not mark nullable
refuses it: for every JSON body of every service, each top-level property sent as null is
checked against what the service's own document says.

Validation is what decides (the service's app, in process: no database is reached before the
body is validated). Fields an update may leave out but not null use
`agencyos.common.fields.Omittable`; refusals in service code after validation are not seen
here, which is why they belong in the schema.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import BaseModel, ValidationError

from agencyos.common.services import SERVICES
from agencyos.common.web import ServiceContext


def service_app(service: str) -> FastAPI:
    definition = importlib.import_module(f"agencyos.{service}.__main__").DEFINITION
    app: FastAPI = definition.create_app(ServiceContext(service, definition.settings_factory()))
    return app


def body_models(app: FastAPI) -> Iterator[type[BaseModel]]:
    seen: set[type[BaseModel]] = set()
    for route in iter_route_contexts(app.routes):
        if not isinstance(route.original_route, APIRoute) or not route.include_in_schema:
            continue
        for param in route.dependant.body_params:
            model = param.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel) and model not in seen:
                seen.add(model)
                yield model


def says_nullable(schema: dict[str, Any], components: dict[str, Any]) -> bool:
    if "$ref" in schema:
        return says_nullable(components[schema["$ref"].rsplit("/", 1)[-1]], components)
    kinds = schema.get("type")
    if kinds == "null" or (isinstance(kinds, list) and "null" in kinds):
        return True
    return any(says_nullable(s, components) for s in schema.get("anyOf", []))


def refuses_null(model: type[BaseModel], field: str) -> bool:
    try:
        model.model_validate({field: None})
    except ValidationError as error:
        # A model validator's refusal has no location; it names the field in its message.
        return any(
            e["loc"][:1] == (field,) or (not e["loc"] and field in e["msg"]) for e in error.errors()
        )
    return False


def mismatches(service: str) -> list[str]:
    app = service_app(service)
    components = app.openapi()["components"]["schemas"]
    found = []
    for model in body_models(app):
        schema = components[model.__name__]
        for field, prop in schema.get("properties", {}).items():
            nullable, refused = says_nullable(prop, components), refuses_null(model, field)
            if nullable == refused:
                claim = "nullable" if nullable else "not nullable"
                answer = "refuses" if refused else "accepts"
                found.append(f"{model.__name__}.{field}: says {claim}, {answer} null")
    return found


@pytest.mark.parametrize("service", SERVICES)
def test_every_request_field_is_nullable_exactly_when_it_accepts_null(service: str) -> None:
    found = mismatches(service)

    assert not found, f"{service}: " + "; ".join(found)


# Fields found advertising null and refusing it in the service code, after validation (or
# ignoring it): validation refuses them now, and the document no longer says nullable.
NOT_NULLABLE = [
    ("work", "ColumnUpdate", "name"),
    ("work", "ColumnUpdate", "status"),
    ("work", "SubtaskUpdate", "title"),
    ("work", "SubtaskUpdate", "done"),
    ("work", "TemplateUpdate", "name"),
    ("work", "TemplateUpdate", "columns"),
    ("work", "ProjectUpdate", "status"),
    ("work", "TaskUpdate", "blocked_by"),
    ("time", "TimeEntryUpdate", "is_billable"),
    # Was accepted and silently ignored.
    ("crm", "ContactUpdate", "name"),
]


@pytest.mark.parametrize(("service", "model_name", "field"), NOT_NULLABLE)
def test_a_field_where_null_means_nothing_refuses_it_and_is_not_advertised_nullable(
    service: str, model_name: str, field: str
) -> None:
    app = service_app(service)
    model = next(m for m in body_models(app) if m.__name__ == model_name)
    components = app.openapi()["components"]["schemas"]

    assert refuses_null(model, field)
    assert not says_nullable(components[model_name]["properties"][field], components)
    assert field not in components[model_name].get("required", [])
