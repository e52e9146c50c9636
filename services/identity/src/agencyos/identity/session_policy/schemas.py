import ipaddress
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

MAX_ALLOWLIST = 100


def _cidr(value: str) -> str:
    """A network in its canonical form (`10.0.0.7/8` is refused: host bits set)."""
    try:
        return str(ipaddress.ip_network(value.strip(), strict=True))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a network in CIDR form (e.g. 203.0.113.0/24)") from exc


Cidr = Annotated[str, Field(min_length=1, max_length=49), AfterValidator(_cidr)]


class SessionPolicyBody(BaseModel):
    """An agency's session policy. A null limit means none."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "idle_timeout_minutes": 720,
                    "absolute_lifetime_hours": 168,
                    "ip_allowlist": ["203.0.113.0/24", "2001:db8::/48"],
                }
            ]
        },
    )

    idle_timeout_minutes: int | None = Field(
        default=None,
        ge=5,
        le=60 * 24 * 90,
        description="A session not refreshed for this long is refused (sign in again).",
    )
    absolute_lifetime_hours: int | None = Field(
        default=None,
        ge=1,
        le=24 * 365,
        description="A session older than this is refused however often it is used.",
    )
    ip_allowlist: list[Cidr] = Field(
        default_factory=list,
        max_length=MAX_ALLOWLIST,
        description=(
            "Networks (CIDR) the agency's people and API keys may call from; empty: any address."
        ),
    )
