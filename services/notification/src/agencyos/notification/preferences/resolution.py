"""The precedence rule, on values only: a person's own choice, else the agency's default for
their role, else the catalog's. A kind the role cannot receive, or a channel the kind does not
have, is never on, whatever a stored row says."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from agencyos.common.permissions import Role
from agencyos.notification.kinds import Channel, Kind

# The order channels are listed in, everywhere.
CHANNELS: tuple[Channel, ...] = (Channel.IN_APP, Channel.EMAIL)


class Source(StrEnum):
    YOU = "you"
    AGENCY = "agency"
    DEFAULT = "default"


@dataclass(frozen=True)
class Setting:
    enabled: bool
    source: Source


def channels_of(kind: Kind) -> tuple[Channel, ...]:
    return tuple(channel for channel in CHANNELS if channel in kind.channels)


def resolve(
    kind: Kind,
    role: Role,
    *,
    agency: Mapping[Channel, bool],
    own: Mapping[Channel, bool] | None = None,
) -> dict[Channel, Setting]:
    """Each channel of `kind` for someone with `role`: on or off, and which layer decided."""
    settings: dict[Channel, Setting] = {}
    for channel in channels_of(kind):
        if role not in kind.roles:
            settings[channel] = Setting(False, Source.DEFAULT)
        elif own is not None and channel in own:
            settings[channel] = Setting(own[channel], Source.YOU)
        elif channel in agency:
            settings[channel] = Setting(agency[channel], Source.AGENCY)
        else:
            settings[channel] = Setting(kind.default(role, channel), Source.DEFAULT)
    return settings


def enabled_channels(settings: Mapping[Channel, Setting]) -> frozenset[Channel]:
    return frozenset(channel for channel, setting in settings.items() if setting.enabled)
