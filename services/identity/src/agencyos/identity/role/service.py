"""Roles and permissions: each role's default set (agencyos.common.permissions), an agency's
tuning of it, per-member overrides, and who may hand out which role.

What a member may do = (their role's set in the agency + granted) minus revoked. The owner role
always holds every permission and takes no overrides, so an agency can never lock itself out.
Access tokens carry the result (`perms`), so a change reaches a member no later than their
access token's lifetime (the next refresh reads it anew). Services that keep their own copy of
members learn of every change from identity's events: `identity.member.permissions_changed`
when the set changes without a role change (overrides set, the role tuned or reset).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.errors import InvalidInput, PermissionDenied
from agencyos.common.events import MemberPermissionsChanged
from agencyos.common.outbox import publish
from agencyos.common.permissions import ALL_PERMISSIONS, DEFAULT_ROLE_PERMISSIONS, Role
from agencyos.common.wording import with_article
from agencyos.identity.account.repository import account_repository
from agencyos.identity.member.repository import member_repository
from agencyos.identity.models import Membership
from agencyos.identity.revocations import Revoker
from agencyos.identity.role.repository import role_repository

SERVICE = "identity"

# Higher outranks lower. Who may give (or take away) which role is decided from this.
RANK: dict[Role, int] = {
    Role.OWNER: 5,
    Role.ADMIN: 4,
    Role.MANAGER: 3,
    Role.MEMBER: 2,
    Role.CLIENT: 1,
}


@dataclass(frozen=True)
class RoleView:
    role: Role
    permissions: frozenset[str]
    default_permissions: frozenset[str]
    tunable: bool

    @property
    def customized(self) -> bool:
        return self.permissions != self.default_permissions


def assignable_roles(role: Role) -> frozenset[Role]:
    """The roles a caller with `role` may invite to, give, or take away.

    Owners: every role. Admins: admin and below. Everyone else: only roles below their own
    (so managers invite members and clients)."""
    if role is Role.OWNER:
        return frozenset(Role)
    if role is Role.ADMIN:
        return frozenset(r for r in Role if RANK[r] <= RANK[Role.ADMIN])
    return frozenset(r for r in Role if RANK[r] < RANK[role])


def ensure_may_assign(principal: Principal, *roles: str) -> None:
    allowed = assignable_roles(principal.role)
    for role in roles:
        if Role(role) not in allowed:
            raise PermissionDenied(
                f"{with_article(principal.role.value)} cannot give or manage the {role} role"
            )


def validate_permissions(names: Iterable[str], field: str) -> list[str]:
    names = list(names)
    unknown = sorted(set(names) - ALL_PERMISSIONS)
    if unknown:
        raise InvalidInput(
            f"unknown permissions: {', '.join(unknown)}",
            errors=[
                {"field": field, "message": f"unknown permission '{name}'", "type": "unknown"}
                for name in unknown
            ],
        )
    return sorted(set(names))


def with_overrides(base: frozenset[str], membership: Membership) -> frozenset[str]:
    """What `membership` may do when its role holds `base`: plus granted, minus revoked
    (owners take no overrides)."""
    if membership.role == Role.OWNER.value:
        return base
    granted = frozenset(membership.granted_permissions or ())
    revoked = frozenset(membership.revoked_permissions or ())
    return (base | granted) - revoked


async def publish_permissions_changed(
    session: AsyncSession,
    principal: Principal,
    membership: Membership,
    permissions: frozenset[str],
) -> None:
    await publish(
        session,
        MemberPermissionsChanged(
            agency_id=membership.tenant_id,
            user_id=membership.user_id,
            role=membership.role,
            permissions=sorted(permissions),
            changed_by=principal.user_id,
        ),
        source_service=SERVICE,
        subject=f"members/{membership.user_id}",
    )


class RoleService:
    async def lock_permissions(self, session: AsyncSession, tenant_id: uuid.UUID) -> None:
        """Taken before reading a member's permissions for an event (role_repository)."""
        await role_repository.lock_permissions(session, tenant_id)

    async def role_set(
        self, session: AsyncSession, tenant_id: uuid.UUID, role: Role
    ) -> frozenset[str]:
        if role is Role.OWNER:
            return ALL_PERMISSIONS
        tuned = await role_repository.tuned_for(session, tenant_id, role.value)
        return frozenset(tuned.permissions) if tuned else DEFAULT_ROLE_PERMISSIONS[role]

    async def effective_permissions(
        self, session: AsyncSession, membership: Membership
    ) -> frozenset[str]:
        base = await self.role_set(session, membership.tenant_id, Role(membership.role))
        return with_overrides(base, membership)

    async def list_roles(self, session: AsyncSession, tenant_id: uuid.UUID) -> list[RoleView]:
        tuned = {
            r.role: frozenset(r.permissions)
            for r in await role_repository.tuned(session, tenant_id)
        }
        views = []
        for role in sorted(Role, key=lambda r: -RANK[r]):
            default = ALL_PERMISSIONS if role is Role.OWNER else DEFAULT_ROLE_PERMISSIONS[role]
            views.append(
                RoleView(
                    role=role,
                    permissions=tuned.get(role.value, default),
                    default_permissions=default,
                    tunable=role is not Role.OWNER,
                )
            )
        return views

    async def tune(
        self,
        session: AsyncSession,
        principal: Principal,
        role: Role,
        permissions: Sequence[str],
        *,
        revoker: Revoker,
    ) -> RoleView:
        if role is Role.OWNER:
            raise InvalidInput(
                "the owner role always holds every permission and cannot be tuned",
                errors=[{"field": "role", "message": "owner cannot be tuned", "type": "fixed"}],
            )
        names = validate_permissions(permissions, "permissions")
        principal = await with_current_role(session, principal, "roles.write")
        updated_by = None if principal.api_key_id else principal.user_id
        await role_repository.lock_permissions(session, principal.tenant_id)
        before = await self.role_set(session, principal.tenant_id, role)
        after = frozenset(names)
        await role_repository.save(session, principal.tenant_id, role.value, names, updated_by)
        await self._revoke_if_narrowed(principal.tenant_id, role, before, after, revoker)
        await self._tell_members(session, principal, role, before, after)
        await _audit_role(session, principal, "role.permissions_changed", role, before, after)
        return self._view(role, after)

    async def reset(
        self, session: AsyncSession, principal: Principal, role: Role, *, revoker: Revoker
    ) -> RoleView:
        if role is Role.OWNER:
            return self._view(role, ALL_PERMISSIONS)
        await with_current_role(session, principal, "roles.write")
        await role_repository.lock_permissions(session, principal.tenant_id)
        before = await self.role_set(session, principal.tenant_id, role)
        await role_repository.reset(session, principal.tenant_id, role.value)
        after = DEFAULT_ROLE_PERMISSIONS[role]
        await self._revoke_if_narrowed(principal.tenant_id, role, before, after, revoker)
        await self._tell_members(session, principal, role, before, after)
        await _audit_role(session, principal, "role.permissions_reset", role, before, after)
        return self._view(role, after)

    @staticmethod
    async def _tell_members(
        session: AsyncSession,
        principal: Principal,
        role: Role,
        before: frozenset[str],
        after: frozenset[str],
    ) -> None:
        """One event per member of `role` (active or suspended) whose effective set changed:
        a member whose overrides already granted (or revoked) what the role gained (or lost)
        is left out."""
        if before == after:
            return
        for membership in await member_repository.with_role(
            session, principal.tenant_id, role.value
        ):
            now = with_overrides(after, membership)
            if now != with_overrides(before, membership):
                await publish_permissions_changed(session, principal, membership, now)

    @staticmethod
    async def _revoke_if_narrowed(
        tenant_id: uuid.UUID,
        role: Role,
        before: frozenset[str],
        after: frozenset[str],
        revoker: Revoker,
    ) -> None:
        """Members' tokens list the role's permissions: one it lost must stop working now
        (a permission it gained arrives with their next token)."""
        if not before <= after:
            await revoker.role(tenant_id, role)

    def _view(self, role: Role, permissions: frozenset[str]) -> RoleView:
        default = ALL_PERMISSIONS if role is Role.OWNER else DEFAULT_ROLE_PERMISSIONS[role]
        return RoleView(role, permissions, default, role is not Role.OWNER)


role_service = RoleService()


async def _audit_role(
    session: AsyncSession,
    principal: Principal,
    action: str,
    role: Role,
    before: frozenset[str],
    after: frozenset[str],
) -> None:
    await record_audit(
        session,
        action=action,
        entity_type="role",
        entity_id=role.value,
        actor=principal,
        source_service=SERVICE,
        before={"permissions": sorted(before)},
        after={"permissions": sorted(after)},
        detail={"added": sorted(after - before), "removed": sorted(before - after)},
    )


async def with_current_role(
    session: AsyncSession, principal: Principal, permission: str
) -> Principal:
    """`principal` with its role and permissions as identity has them now, not as its token
    says; PermissionDenied unless it still holds `permission`.

    Identity is where roles live, so its own member management does not wait for the
    caller's token to expire: someone demoted or suspended a minute ago cannot still hand out
    roles with the token they got before."""
    if principal.api_key_id is not None:
        principal.require(permission)
        return principal  # a key's role is fixed when the key is made
    found = await account_repository.membership(session, principal.tenant_id, principal.user_id)
    if found is None or found[0].status != "active":
        raise PermissionDenied("your membership in this agency is not active")
    current = replace(
        principal,
        role=Role(found[0].role),
        permissions=await role_service.effective_permissions(session, found[0]),
    )
    current.require(permission)
    return current
