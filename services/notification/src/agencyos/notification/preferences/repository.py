"""All SQL of preferences: a person's own choices and an agency's role defaults."""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID, insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import utcnow
from agencyos.common.permissions import Role
from agencyos.notification.kinds import Channel
from agencyos.notification.models import NotificationPreference, NotificationRoleDefault


@dataclass
class StoredChoices:
    """What is stored for some people and roles: `own[(user, kind, channel)]` and
    `agency[(role, kind, channel)]`, each the `enabled` of its row."""

    own: dict[tuple[uuid.UUID, str, Channel], bool] = field(default_factory=dict)
    agency: dict[tuple[Role, str, Channel], bool] = field(default_factory=dict)

    def own_of(self, user_id: uuid.UUID, kind: str) -> dict[Channel, bool]:
        return {c: on for (u, k, c), on in self.own.items() if u == user_id and k == kind}

    def agency_of(self, role: Role, kind: str) -> dict[Channel, bool]:
        return {c: on for (r, k, c), on in self.agency.items() if r == role and k == kind}


async def stored_choices(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    *,
    user_ids: Collection[uuid.UUID],
    roles: Collection[Role],
    kind: str | None = None,
) -> StoredChoices:
    """The own choices of `user_ids` and the agency's defaults of `roles` (for one kind, or
    all), in one query."""
    own = NotificationPreference
    agency = NotificationRoleDefault
    own_rows = sa.select(
        sa.literal("you").label("source"),
        own.user_id.label("user_id"),
        sa.cast(sa.null(), sa.String).label("role"),
        own.kind,
        own.channel,
        own.enabled,
    ).where(own.tenant_id == tenant_id, own.user_id.in_(list(user_ids)))
    agency_rows = sa.select(
        sa.literal("agency").label("source"),
        sa.cast(sa.null(), UUID(as_uuid=True)).label("user_id"),
        agency.role,
        agency.kind,
        agency.channel,
        agency.enabled,
    ).where(agency.tenant_id == tenant_id, agency.role.in_([str(r) for r in roles]))
    if kind is not None:
        own_rows = own_rows.where(own.kind == kind)
        agency_rows = agency_rows.where(agency.kind == kind)
    found = StoredChoices()
    for row in (await session.execute(sa.union_all(own_rows, agency_rows))).mappings():
        channel = Channel(row["channel"])
        if row["source"] == "you":
            found.own[(row["user_id"], row["kind"], channel)] = row["enabled"]
        else:
            found.agency[(Role(row["role"]), row["kind"], channel)] = row["enabled"]
    return found


async def save_own_choices(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    choices: Iterable[tuple[str, Channel, bool]],
) -> None:
    """Upsert `(kind, channel, enabled)` rows of one person."""
    rows = [
        {
            "tenant_id": tenant_id,
            "user_id": user_id,
            "kind": kind,
            "channel": str(channel),
            "enabled": enabled,
            "updated_at": utcnow(),
        }
        for kind, channel, enabled in choices
    ]
    if not rows:
        return
    stmt = insert(NotificationPreference).values(rows)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "user_id", "kind", "channel"],
            set_={"enabled": stmt.excluded.enabled, "updated_at": stmt.excluded.updated_at},
        )
    )


async def save_role_defaults(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    role: Role,
    choices: Iterable[tuple[str, Channel, bool]],
    *,
    updated_by: uuid.UUID,
) -> None:
    """Upsert an agency's `(kind, channel, enabled)` defaults of one role."""
    rows = [
        {
            "tenant_id": tenant_id,
            "role": str(role),
            "kind": kind,
            "channel": str(channel),
            "enabled": enabled,
            "updated_by": updated_by,
            "updated_at": utcnow(),
        }
        for kind, channel, enabled in choices
    ]
    if not rows:
        return
    stmt = insert(NotificationRoleDefault).values(rows)
    await session.execute(
        stmt.on_conflict_do_update(
            index_elements=["tenant_id", "role", "kind", "channel"],
            set_={
                "enabled": stmt.excluded.enabled,
                "updated_by": stmt.excluded.updated_by,
                "updated_at": stmt.excluded.updated_at,
            },
        )
    )


async def forget_own_choices(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    user_id: uuid.UUID,
    choices: Iterable[tuple[str, Channel]],
) -> None:
    """Delete `(kind, channel)` choices of one person: the defaults apply again."""
    pairs = [(kind, str(channel)) for kind, channel in choices]
    if not pairs:
        return
    own = NotificationPreference
    await session.execute(
        sa.delete(own).where(
            own.tenant_id == tenant_id,
            own.user_id == user_id,
            sa.tuple_(own.kind, own.channel).in_(pairs),
        )
    )


async def forget_role_defaults(
    session: AsyncSession,
    tenant_id: uuid.UUID,
    role: Role,
    choices: Iterable[tuple[str, Channel]],
) -> None:
    """Delete an agency's `(kind, channel)` defaults of one role: the catalog's apply again."""
    pairs = [(kind, str(channel)) for kind, channel in choices]
    if not pairs:
        return
    agency = NotificationRoleDefault
    await session.execute(
        sa.delete(agency).where(
            agency.tenant_id == tenant_id,
            agency.role == str(role),
            sa.tuple_(agency.kind, agency.channel).in_(pairs),
        )
    )
