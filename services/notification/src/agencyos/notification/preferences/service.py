"""Preferences' business rules. `effective_channels` and `effective_channels_for` are what the
event handlers ask before writing a notice or queueing an email."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import InvalidInput, PermissionDenied, field_problem
from agencyos.common.permissions import Role
from agencyos.notification.kinds import KINDS, Channel, Kind, kind_named
from agencyos.notification.preferences import repository
from agencyos.notification.preferences.repository import StoredChoices, stored_choices
from agencyos.notification.preferences.resolution import (
    Setting,
    enabled_channels,
    resolve,
)
from agencyos.notification.preferences.schemas import PreferenceChange
from agencyos.notification.preferences.unsubscribe import (
    InvalidUnsubscribeToken,
    UnsubscribeTarget,
)


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


# --- what the API shows and changes ------------------------------------------------------------


@dataclass(frozen=True)
class KindSettings:
    """One kind's channels for one person or role, each with the layer that decided it."""

    kind: Kind
    settings: dict[Channel, Setting]


# What a change asks: per kind, each channel sent with its value (None: forget the choice).
Changes = list[tuple[Kind, dict[Channel, bool | None]]]


def receivable_kinds(role: Role) -> list[Kind]:
    return [kind for kind in KINDS.values() if role in kind.roles]


def validate_changes(changes: Sequence[PreferenceChange], role: Role) -> Changes:
    """The changes as catalog kinds, or InvalidInput naming every bad entry
    (`preferences[2].kind`): nothing is saved unless all of them are good."""
    errors: list[dict[str, str]] = []
    seen: set[str] = set()
    valid: Changes = []
    for index, change in enumerate(changes):
        at = f"preferences[{index}]"
        kind = kind_named(change.kind)
        if kind is None:
            errors.append(field_problem(f"{at}.kind", f"no notification kind {change.kind!r}"))
            continue
        if role not in kind.roles:
            message = f"the {role} role cannot receive {kind.name!r}"
            errors.append(field_problem(f"{at}.kind", message, "not_receivable"))
            continue
        if kind.name in seen:
            errors.append(
                field_problem(f"{at}.kind", f"{kind.name!r} is listed twice", "duplicate")
            )
            continue
        seen.add(kind.name)
        values = change.channel_values()
        if not values:
            errors.append(field_problem(at, "names no channel (in_app, email)", "missing"))
        lacking = [channel for channel in values if channel not in kind.channels]
        for channel in lacking:
            message = f"{kind.name!r} has no {channel} channel"
            errors.append(field_problem(f"{at}.{channel}", message, "no_such_channel"))
        valid.append((kind, values))
    if errors:
        fields = ", ".join(sorted({e["field"] for e in errors}))
        raise InvalidInput(f"invalid fields: {fields}", errors=errors)
    return valid


def _chosen(changes: Changes) -> list[tuple[str, Channel, bool]]:
    return [
        (kind.name, channel, value)
        for kind, values in changes
        for channel, value in values.items()
        if value is not None
    ]


def _forgotten(changes: Changes) -> list[tuple[str, Channel]]:
    return [
        (kind.name, channel)
        for kind, values in changes
        for channel, value in values.items()
        if value is None
    ]


def _settings_of(
    stored: StoredChoices, role: Role, user_id: uuid.UUID | None
) -> list[KindSettings]:
    return [
        KindSettings(
            kind,
            resolve(
                kind,
                role,
                agency=stored.agency_of(role, kind.name),
                own=stored.own_of(user_id, kind.name) if user_id is not None else None,
            ),
        )
        for kind in receivable_kinds(role)
    ]


class PreferenceService:
    async def own(self, session: AsyncSession, principal: Principal) -> list[KindSettings]:
        """Every kind the caller's role can receive, as the caller hears it."""
        stored = await stored_choices(
            session, principal.tenant_id, user_ids=[principal.user_id], roles=[principal.role]
        )
        return _settings_of(stored, principal.role, principal.user_id)

    async def change_own(
        self, session: AsyncSession, principal: Principal, changes: Sequence[PreferenceChange]
    ) -> list[KindSettings]:
        valid = validate_changes(changes, principal.role)
        tenant_id, user_id = principal.tenant_id, principal.user_id
        await repository.save_own_choices(session, tenant_id, user_id, _chosen(valid))
        await repository.forget_own_choices(session, tenant_id, user_id, _forgotten(valid))
        return await self.own(session, principal)

    async def role_defaults(
        self, session: AsyncSession, principal: Principal
    ) -> dict[Role, list[KindSettings]]:
        """Each role's defaults in the caller's agency (owners and admins)."""
        if principal.role not in (Role.OWNER, Role.ADMIN):
            raise PermissionDenied("only an owner or an admin sees the agency's defaults")
        stored = await stored_choices(session, principal.tenant_id, user_ids=[], roles=list(Role))
        return {role: _settings_of(stored, role, None) for role in Role}

    def check_may_change_defaults(self, principal: Principal) -> None:
        if principal.role is not Role.OWNER:
            raise PermissionDenied("only an owner changes the agency's defaults")

    async def change_role_defaults(
        self,
        session: AsyncSession,
        principal: Principal,
        role: Role,
        changes: Sequence[PreferenceChange],
    ) -> list[KindSettings]:
        """Change what `role` hears by default in the caller's agency (owners only); a
        person's own choice still wins."""
        self.check_may_change_defaults(principal)
        valid = validate_changes(changes, role)
        tenant_id = principal.tenant_id
        await repository.save_role_defaults(
            session, tenant_id, role, _chosen(valid), updated_by=principal.user_id
        )
        await repository.forget_role_defaults(session, tenant_id, role, _forgotten(valid))
        stored = await stored_choices(session, tenant_id, user_ids=[], roles=[role])
        return _settings_of(stored, role, None)

    async def unsubscribe(self, session: AsyncSession, target: UnsubscribeTarget) -> Kind:
        """Turn off the email of one kind for one person (the session is under the target's
        agency); nothing else changes."""
        kind = kind_named(target.kind)
        if kind is None or Channel.EMAIL not in kind.channels:
            # Signed by us, for a kind the catalog no longer has (or has without email).
            raise InvalidUnsubscribeToken(f"no notification kind {target.kind!r} to unsubscribe")
        await repository.save_own_choices(
            session, target.tenant_id, target.user_id, [(kind.name, Channel.EMAIL, False)]
        )
        return kind


preference_service = PreferenceService()
