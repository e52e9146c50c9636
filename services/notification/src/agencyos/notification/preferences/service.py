"""Preferences' business rules. `effective_channels` and `effective_channels_for` are what the
event handlers ask before writing a notice or queueing an email."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.permissions import Role
from agencyos.notification.kinds import Channel, Kind, kind_named
from agencyos.notification.preferences.repository import stored_choices
from agencyos.notification.preferences.resolution import enabled_channels, resolve


def _kind(name: str) -> Kind:
    kind = kind_named(name)
    if kind is None:
        # A programming error (a handler naming a kind the catalog lacks), not bad input.
        raise ValueError(f"unknown notification kind {name!r} (see agencyos.notification.kinds)")
    return kind


async def effective_channels(
    session: AsyncSession, tenant_id: uuid.UUID, user_id: uuid.UUID, role: Role, kind: str
) -> frozenset[Channel]:
    """The channels `user_id` (with `role` in `tenant_id`) hears about `kind` on: their own
    choice, else the agency's default for the role, else the catalog's. Raises ValueError for a
    kind not in the catalog."""
    found = await effective_channels_for(session, tenant_id, [(user_id, role)], kind)
    return found[user_id]


async def effective_channels_for(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    people: Sequence[tuple[uuid.UUID, Role]],
    kind: str,
) -> dict[uuid.UUID, frozenset[Channel]]:
    """`effective_channels` for many people at once, in one query."""
    catalog = _kind(kind)
    if not people:
        return {}
    stored = await stored_choices(
        session,
        tenant_id,
        user_ids={user_id for user_id, _ in people},
        roles={role for _, role in people},
        kind=kind,
    )
    return {
        user_id: enabled_channels(
            resolve(
                catalog,
                role,
                agency=stored.agency_of(role, kind),
                own=stored.own_of(user_id, kind),
            )
        )
        for user_id, role in people
    }
