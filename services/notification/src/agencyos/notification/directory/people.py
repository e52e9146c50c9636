"""The agency's people as identity's events tell them (`people`), and the questions the
recipient rules ask of them.

A person's row has three parts, each stamped with the time of the event that last set it:
the profile (email, name), the access (role, client, permissions) and the status. An event
sets a part only when it is at least as new as what is kept, so the row converges whatever
order identity's events arrive in, and a redelivered old event never undoes a newer one.
A person whose `identity.member.added` has not arrived yet may have a row already (a later
event came first): without a profile they are not `known`, and hear nothing until it comes.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.permissions import DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.notification.models import DirectoryPerson

ACTIVE = "active"
SUSPENDED = "suspended"
REMOVED = "removed"
NAME_LENGTH = 200
EMAIL_LENGTH = 320


def role_or_none(value: str | None) -> Role | None:
    try:
        return Role(value) if value else None
    except ValueError:
        return None


def permissions_of(role: str, given: Sequence[str] | None) -> list[str]:
    """What the member may do: the event's set, else (older events) the role's defaults."""
    if given is not None:
        return sorted(set(given))
    known = role_or_none(role)
    return sorted(DEFAULT_ROLE_PERMISSIONS[known]) if known else []


@dataclass(frozen=True)
class Person:
    user_id: uuid.UUID
    email: str | None
    name: str | None
    role: Role | None
    client_id: uuid.UUID | None
    permissions: frozenset[str]
    status: str
    # identity.member.added has been seen (email and name are there)
    known: bool

    @property
    def active(self) -> bool:
        return self.known and self.status == ACTIVE and self.role is not None

    @property
    def is_client(self) -> bool:
        return self.role is Role.CLIENT

    @property
    def display_name(self) -> str:
        return self.name or self.email or "Someone"

    def can(self, permission: str) -> bool:
        return permission in self.permissions

    @classmethod
    def of(cls, row: DirectoryPerson) -> Person:
        return cls(
            user_id=row.user_id,
            email=row.email,
            name=row.name,
            role=role_or_none(row.role),
            client_id=row.client_id,
            permissions=frozenset(row.permissions or ()),
            status=row.status,
            known=row.profile_at is not None,
        )


@dataclass(frozen=True)
class Profile:
    email: str
    name: str


@dataclass(frozen=True)
class Access:
    role: str
    client_id: uuid.UUID | None
    permissions: list[str]


def _newer(kept: datetime | None, at: datetime) -> bool:
    return kept is None or at >= kept


class PeopleRepository:
    async def apply(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        user_id: uuid.UUID,
        at: datetime,
        *,
        profile: Profile | None = None,
        access: Access | None = None,
        status: str | None = None,
    ) -> None:
        """Set the parts given, each only if `at` is not older than what is kept."""
        await session.execute(
            insert(DirectoryPerson)
            .values(tenant_id=tenant_id, user_id=user_id, permissions=[])
            .on_conflict_do_nothing(index_elements=["tenant_id", "user_id"])
        )
        row = (
            await session.execute(
                select(DirectoryPerson).where(DirectoryPerson.user_id == user_id).with_for_update()
            )
        ).scalar_one()
        if profile is not None and _newer(row.profile_at, at):
            row.email = profile.email[:EMAIL_LENGTH]
            row.name = profile.name[:NAME_LENGTH]
            row.profile_at = at
        if access is not None and _newer(row.access_at, at):
            row.role = access.role
            row.client_id = access.client_id
            row.permissions = access.permissions
            row.access_at = at
        if status is not None and _newer(row.status_at, at):
            row.status = status
            row.status_at = at
        await session.flush()

    async def by_ids(
        self, session: AsyncSession, user_ids: Iterable[uuid.UUID]
    ) -> dict[uuid.UUID, Person]:
        ids = list(set(user_ids))
        if not ids:
            return {}
        rows = await session.scalars(
            select(DirectoryPerson).where(DirectoryPerson.user_id.in_(ids))
        )
        return {row.user_id: Person.of(row) for row in rows}

    async def active(self, session: AsyncSession) -> list[Person]:
        """Everyone of the agency who hears anything now."""
        rows = await session.scalars(
            select(DirectoryPerson)
            .where(
                DirectoryPerson.status == ACTIVE,
                DirectoryPerson.profile_at.is_not(None),
                DirectoryPerson.role.is_not(None),
            )
            .order_by(DirectoryPerson.user_id)
        )
        return [Person.of(row) for row in rows]

    async def holding(self, session: AsyncSession, permission: str) -> list[Person]:
        """Active people holding `permission` (the rules keep the staff among them)."""
        rows = await session.scalars(
            select(DirectoryPerson)
            .where(
                DirectoryPerson.status == ACTIVE,
                DirectoryPerson.profile_at.is_not(None),
                DirectoryPerson.permissions.contains([permission]),
            )
            .order_by(DirectoryPerson.user_id)
        )
        return [Person.of(row) for row in rows]

    async def of_client(self, session: AsyncSession, client_id: uuid.UUID) -> list[Person]:
        """The people bound to one CRM client (client users), whatever their status."""
        rows = await session.scalars(
            select(DirectoryPerson)
            .where(DirectoryPerson.client_id == client_id)
            .order_by(DirectoryPerson.user_id)
        )
        return [Person.of(row) for row in rows]


people_repository = PeopleRepository()
