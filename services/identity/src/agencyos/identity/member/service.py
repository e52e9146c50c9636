"""Members of an agency: list, change role, suspend and reactivate, remove, transfer
ownership, per-member permission overrides.

Rules that hold under concurrency: an agency always keeps at least one active owner (every
change that could take the last one away first locks the owners' rows), and nobody gives or
takes away a role above what they may assign (role.service.assignable_roles).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.errors import Conflict, NotFound, PermissionDenied, field_error
from agencyos.common.events import (
    MemberReactivated,
    MemberRemoved,
    MemberRoleChanged,
    MemberSuspended,
)
from agencyos.common.outbox import publish
from agencyos.common.peers.crm import CrmClient
from agencyos.common.permissions import Role
from agencyos.identity.crm_clients import ensure_client_exists
from agencyos.identity.member.repository import member_repository
from agencyos.identity.models import Membership, User
from agencyos.identity.revocations import Revoker
from agencyos.identity.role.service import (
    ensure_may_assign,
    publish_permissions_changed,
    role_service,
    validate_permissions,
    with_current_role,
)
from agencyos.identity.session.repository import session_repository

SERVICE = "identity"
_LAST_OWNER = "an agency must keep at least one active owner; make someone else owner first"


@dataclass(frozen=True)
class MemberView:
    membership: Membership
    user: User
    permissions: frozenset[str]


def _str(value: uuid.UUID | None) -> str | None:
    return str(value) if value is not None else None


class MemberService:
    async def _view(self, session: AsyncSession, membership: Membership, user: User) -> MemberView:
        permissions = await role_service.effective_permissions(session, membership)
        return MemberView(membership, user, permissions)

    async def list_members(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        q: str | None,
        role: Role | None,
        status: str | None,
        page: int,
        per_page: int,
    ) -> tuple[list[MemberView], int]:
        rows, total = await member_repository.page(
            session,
            principal.tenant_id,
            q=q,
            role=role.value if role else None,
            status=status,
            page=page,
            per_page=per_page,
        )
        return [await self._view(session, m, u) for m, u in rows], total

    async def get(
        self, session: AsyncSession, principal: Principal, user_id: uuid.UUID
    ) -> MemberView:
        rows = await member_repository.many(session, principal.tenant_id, [user_id])
        if not rows:
            raise NotFound("no such member in this agency")
        return await self._view(session, *rows[0])

    async def many(
        self, session: AsyncSession, tenant_id: uuid.UUID, user_ids: Sequence[uuid.UUID]
    ) -> list[MemberView]:
        rows = await member_repository.many(session, tenant_id, user_ids)
        return [await self._view(session, m, u) for m, u in rows]

    async def _target(
        self, session: AsyncSession, principal: Principal, user_id: uuid.UUID
    ) -> tuple[list[uuid.UUID], Membership, User]:
        """Lock the owners, then the target (always in that order: no deadlocks). Callers
        check the caller's rights after this, with `with_current_role`."""
        owners = await member_repository.lock_active_owners(session, principal.tenant_id)
        found = await member_repository.get_for_update(session, principal.tenant_id, user_id)
        if found is None:
            raise NotFound("no such member in this agency")
        return owners, found[0], found[1]

    @staticmethod
    def _ensure_not_last_owner(owners: list[uuid.UUID], membership: Membership) -> None:
        if membership.role == Role.OWNER.value and owners == [membership.user_id]:
            raise Conflict(_LAST_OWNER)

    async def change_role(
        self,
        session: AsyncSession,
        principal: Principal,
        user_id: uuid.UUID,
        *,
        role: Role,
        client_id: uuid.UUID | None,
        crm: CrmClient,
        revoker: Revoker,
    ) -> MemberView:
        owners, membership, user = await self._target(session, principal, user_id)
        principal = await with_current_role(session, principal, "members.write")
        ensure_may_assign(principal, membership.role, role.value)
        if role is Role.CLIENT:
            if client_id is None:
                raise field_error("client_id", "a client member must be bound to a client_id")
            await ensure_client_exists(principal, crm, client_id)
        elif client_id is not None:
            raise field_error("client_id", "only client members are bound to a client")
        old_role, old_client_id = membership.role, membership.client_id
        if old_role == role.value and membership.client_id == client_id:
            return await self._view(session, membership, user)
        if role is not Role.OWNER:
            self._ensure_not_last_owner(owners, membership)
        membership.role = role.value
        membership.client_id = client_id
        membership.updated_at = utcnow()
        await session.flush()
        # Up or down, the tokens they hold name a role (and permissions) they no longer have.
        await revoker.member(membership.tenant_id, membership.user_id)
        await self._publish_role_change(session, principal, membership, old_role)
        await self._audit(
            session,
            principal,
            "member.role_changed",
            membership,
            before={"role": old_role, "client_id": _str(old_client_id)},
            after={"role": membership.role, "client_id": _str(membership.client_id)},
        )
        return await self._view(session, membership, user)

    @staticmethod
    async def _audit(
        session: AsyncSession,
        principal: Principal,
        action: str,
        membership: Membership,
        *,
        before: Mapping[str, object] | None = None,
        after: Mapping[str, object] | None = None,
        detail: Mapping[str, object] | None = None,
    ) -> None:
        await record_audit(
            session,
            action=action,
            entity_type="member",
            entity_id=membership.user_id,
            actor=principal,
            source_service=SERVICE,
            before=before,
            after=after,
            detail=detail,
        )

    async def _publish_role_change(
        self, session: AsyncSession, principal: Principal, membership: Membership, old: str
    ) -> None:
        await role_service.lock_permissions(session, membership.tenant_id)
        await publish(
            session,
            MemberRoleChanged(
                agency_id=membership.tenant_id,
                user_id=membership.user_id,
                old_role=old,
                new_role=membership.role,
                client_id=membership.client_id,
                changed_by=principal.user_id,
                permissions=sorted(await role_service.effective_permissions(session, membership)),
            ),
            source_service=SERVICE,
            subject=f"members/{membership.user_id}",
        )

    async def suspend(
        self, session: AsyncSession, principal: Principal, user_id: uuid.UUID, *, revoker: Revoker
    ) -> MemberView:
        if user_id == principal.user_id:
            raise Conflict("you cannot suspend yourself")
        owners, membership, user = await self._target(session, principal, user_id)
        principal = await with_current_role(session, principal, "members.write")
        ensure_may_assign(principal, membership.role)
        if membership.status == "suspended":
            return await self._view(session, membership, user)
        self._ensure_not_last_owner(owners, membership)
        membership.status = "suspended"
        membership.updated_at = utcnow()
        await session.flush()
        # Their refresh tokens and access tokens here stop at once.
        await session_repository.revoke_users_families(session, user_id, sparing=None)
        await revoker.member(principal.tenant_id, user_id)
        await publish(
            session,
            MemberSuspended(
                agency_id=principal.tenant_id, user_id=user_id, suspended_by=principal.user_id
            ),
            source_service=SERVICE,
            subject=f"members/{user_id}",
        )
        await self._audit(
            session,
            principal,
            "member.suspended",
            membership,
            before={"status": "active"},
            after={"status": "suspended"},
        )
        return await self._view(session, membership, user)

    async def reactivate(
        self, session: AsyncSession, principal: Principal, user_id: uuid.UUID
    ) -> MemberView:
        _, membership, user = await self._target(session, principal, user_id)
        principal = await with_current_role(session, principal, "members.write")
        ensure_may_assign(principal, membership.role)
        if membership.status == "active":
            return await self._view(session, membership, user)
        membership.status = "active"
        membership.updated_at = utcnow()
        await session.flush()
        await publish(
            session,
            MemberReactivated(
                agency_id=principal.tenant_id, user_id=user_id, reactivated_by=principal.user_id
            ),
            source_service=SERVICE,
            subject=f"members/{user_id}",
        )
        await self._audit(
            session,
            principal,
            "member.reactivated",
            membership,
            before={"status": "suspended"},
            after={"status": "active"},
        )
        return await self._view(session, membership, user)

    async def remove(
        self, session: AsyncSession, principal: Principal, user_id: uuid.UUID, *, revoker: Revoker
    ) -> None:
        """Anyone may leave; removing someone else needs `members.write` and a role the
        caller may manage."""
        leaving = user_id == principal.user_id
        if not leaving:
            principal.require("members.write")
        owners, membership, _ = await self._target(session, principal, user_id)
        if not leaving:
            principal = await with_current_role(session, principal, "members.write")
            ensure_may_assign(principal, membership.role)
        self._ensure_not_last_owner(owners, membership)
        await member_repository.delete(session, membership)
        await session_repository.revoke_users_families(session, user_id, sparing=None)
        await revoker.member(principal.tenant_id, user_id)
        await publish(
            session,
            MemberRemoved(
                agency_id=principal.tenant_id,
                user_id=user_id,
                role=membership.role,
                removed_by=principal.user_id,
            ),
            source_service=SERVICE,
            subject=f"members/{user_id}",
        )
        await self._audit(
            session,
            principal,
            "member.left" if leaving else "member.removed",
            membership,
            before={"role": membership.role, "status": membership.status},
        )

    async def transfer_ownership(
        self, session: AsyncSession, principal: Principal, user_id: uuid.UUID, *, revoker: Revoker
    ) -> tuple[MemberView, MemberView]:
        """The target becomes an owner and the caller (an owner) becomes an admin, at once."""
        if principal.api_key_id is not None:
            raise PermissionDenied("only an owner can transfer ownership")
        if user_id == principal.user_id:
            raise Conflict("you already own this agency")
        owners, target, target_user = await self._target(session, principal, user_id)
        if principal.user_id not in owners:
            raise PermissionDenied("only an active owner can transfer ownership")
        if target.status != "active":
            raise Conflict("ownership can only go to an active member")
        if target.role == Role.CLIENT.value:
            raise Conflict("ownership cannot go to a client member")
        me = await member_repository.get_for_update(session, principal.tenant_id, principal.user_id)
        assert me is not None  # the caller is among the locked owners
        mine, my_user = me
        target_old = target.role
        target.role = Role.OWNER.value
        mine.role = Role.ADMIN.value
        target.updated_at = mine.updated_at = utcnow()
        await session.flush()
        # The former owner's tokens say owner; they are an admin now.
        await revoker.member(principal.tenant_id, principal.user_id)
        if target_old != Role.OWNER.value:
            await self._publish_role_change(session, principal, target, target_old)
        await self._publish_role_change(session, principal, mine, Role.OWNER.value)
        await self._audit(
            session,
            principal,
            "member.ownership_transferred",
            target,
            before={"role": target_old},
            after={"role": target.role},
            detail={"former_owner_id": str(principal.user_id), "former_owner_role": mine.role},
        )
        return (
            await self._view(session, target, target_user),
            await self._view(session, mine, my_user),
        )

    async def set_overrides(
        self,
        session: AsyncSession,
        principal: Principal,
        user_id: uuid.UUID,
        *,
        granted: Sequence[str],
        revoked: Sequence[str],
        revoker: Revoker,
    ) -> MemberView:
        granted = validate_permissions(granted, "granted")
        revoked = validate_permissions(revoked, "revoked")
        both = sorted(set(granted) & set(revoked))
        if both:
            raise field_error("revoked", f"granted and revoked at once: {', '.join(both)}")
        _, membership, user = await self._target(session, principal, user_id)
        await with_current_role(session, principal, "roles.write")
        if membership.role == Role.OWNER.value:
            raise field_error("user_id", "owners hold every permission and take no overrides")
        await role_service.lock_permissions(session, membership.tenant_id)
        before = await role_service.effective_permissions(session, membership)
        overrides_before = {
            "granted_permissions": sorted(membership.granted_permissions or []),
            "revoked_permissions": sorted(membership.revoked_permissions or []),
        }
        membership.granted_permissions = list(granted)
        membership.revoked_permissions = list(revoked)
        membership.updated_at = utcnow()
        await session.flush()
        view = await self._view(session, membership, user)
        if not before <= view.permissions:
            # Their tokens carry permissions they no longer hold (gains wait for a refresh).
            await revoker.member(membership.tenant_id, membership.user_id)
        if view.permissions != before:
            await publish_permissions_changed(session, principal, membership, view.permissions)
        overrides_after = {"granted_permissions": granted, "revoked_permissions": revoked}
        if overrides_after != overrides_before:
            await self._audit(
                session,
                principal,
                "member.permissions_changed",
                membership,
                before=overrides_before,
                after=overrides_after,
                detail={
                    "gained": sorted(view.permissions - before),
                    "lost": sorted(before - view.permissions),
                },
            )
        return view


member_service = MemberService()
