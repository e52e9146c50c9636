"""Field types shared by the request schemas of every service.

`Omittable[T]` is for the fields of an `XUpdate` (applied with `exclude_unset`) that may be left
out but have no meaning as null: `name: Omittable[Name] = None`. Python sees `T | None` (the
field is None when it was not sent), while validation refuses an explicit null with 422 and the
JSON schema says `T` alone, so the OpenAPI never advertises a null that would be refused. Use
plain `T | None = None` only where null means something (e.g. clearing a due date).
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BeforeValidator, Field, GetJsonSchemaHandler
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema, PydanticCustomError

T = TypeVar("T")


def _refuse_null(value: Any) -> Any:
    if value is None:
        raise PydanticCustomError("not_null", "may be left out, but cannot be null")
    return value


class _NotNullInJsonSchema:
    """The JSON schema of `T | None` without its null branch (and without a null default:
    the Python default None stands for "not sent")."""

    def __get_pydantic_json_schema__(
        self, schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        branches = [b for b in json_schema.get("anyOf", []) if b != {"type": "null"}]
        if "anyOf" in json_schema and len(branches) == 1:
            rest = {k: v for k, v in json_schema.items() if k != "anyOf"}
            json_schema = {**branches[0], **rest}
        elif "anyOf" in json_schema:
            json_schema["anyOf"] = branches
        return json_schema


def _without_null_default(schema: dict[str, Any]) -> None:
    if schema.get("default", ...) is None:
        del schema["default"]


# The validator and the JSON-schema hook wrap `T | None` itself, so constraints declared on the
# field (`Field(max_length=...)`) still apply to `T` as they would without this.
Omittable = Annotated[
    T | None,
    BeforeValidator(_refuse_null),
    _NotNullInJsonSchema(),
    Field(json_schema_extra=_without_null_default),
]
