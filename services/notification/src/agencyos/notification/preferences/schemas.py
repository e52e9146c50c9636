"""What the preferences API reads and answers. A change names a kind and the channels it sets:
`true`/`false` is a choice, `null` forgets it (back to the default), an absent channel stays."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, StrictBool, StrictStr, ValidationError

from agencyos.common.errors import InvalidInput, field_problem
from agencyos.notification.kinds import Channel
from agencyos.notification.preferences.resolution import Source


class PreferenceChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: StrictStr
    in_app: StrictBool | None = None
    email: StrictBool | None = None

    def channel_values(self) -> dict[Channel, bool | None]:
        """The channels this change sends (a `null` one too), with their value."""
        return {Channel(name): getattr(self, name) for name in self.model_fields_set - {"kind"}}


class PreferencesUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    preferences: list[PreferenceChange]


def _field_name(loc: tuple[int | str, ...]) -> str:
    name = ""
    for part in loc:
        name += f"[{part}]" if isinstance(part, int) else (f".{part}" if name else str(part))
    return name or "body"


def parse_update(raw: Any) -> PreferencesUpdate:
    """The body of a PUT, or a 422 naming each field as `preferences[2].kind`."""
    try:
        return PreferencesUpdate.model_validate(raw)
    except ValidationError as exc:
        errors = [
            field_problem(_field_name(tuple(e["loc"])), e["msg"], e["type"]) for e in exc.errors()
        ]
        fields = ", ".join(sorted({e["field"] for e in errors}))
        raise InvalidInput(f"invalid fields: {fields}", errors=errors) from exc


# The request body's schema, inlined (no $ref) for the OpenAPI document.
UPDATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["preferences"],
    "additionalProperties": False,
    "properties": {
        "preferences": {"type": "array", "items": PreferenceChange.model_json_schema()},
    },
}


class ChannelSettingOut(BaseModel):
    enabled: bool
    source: Source


class KindPreferenceOut(BaseModel):
    """One kind for one person or role; a channel the kind does not have is null."""

    kind: str
    label: str
    in_app: ChannelSettingOut | None
    email: ChannelSettingOut | None


class PreferencesOut(BaseModel):
    preferences: list[KindPreferenceOut]


class RoleDefaultsOut(BaseModel):
    role: str
    preferences: list[KindPreferenceOut]


class DefaultsOut(BaseModel):
    roles: list[RoleDefaultsOut]


class UnsubscribedOut(BaseModel):
    kind: str
    label: str
    email: bool
