"""Invitations: invite someone by email with a role, list and revoke them, accept one.

An invitation token reads `inv_<secret>.<agency id hex>`; the agency part lets the accept
request open its transaction under that tenant. Only the SHA-256 of the whole token is
stored. An invitation ends once: accepted, revoked, or by expiring; each ending has its own
clear error when the token is presented again.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import AuditActor, record_audit
from agencyos.common.auth import Principal, restriction_error
from agencyos.common.db import utcnow
from agencyos.common.errors import (
    Conflict,
    Gone,
    NotFound,
    PermissionDenied,
    Unauthenticated,
    field_error,
)
from agencyos.common.events import InvitationAccepted, InvitationCreated, MemberAdded
from agencyos.common.outbox import publish
from agencyos.common.peers.crm import CrmClient
from agencyos.common.permissions import Role
from agencyos.identity.account.repository import account_repository
from agencyos.identity.account.service import SessionGrant
from agencyos.identity.crm_clients import ensure_client_exists
from agencyos.identity.invitation.repository import InvitationState, invitation_repository
from agencyos.identity.mfa.repository import two_factor_repository
from agencyos.identity.models import Agency, Invitation, Membership, User
from agencyos.identity.passwords import hash_password, verify_password
from agencyos.identity.role.service import ensure_may_assign, role_service, with_current_role
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.tokens.issuer import ClientInfo, issue_tokens

SERVICE = "identity"
_TOKEN = re.compile(r"^inv_[A-Za-z0-9_-]{43}\.([0-9a-f]{32})$")
_PASSWORD_MIN = 10


class InvitationNotFound(NotFound):
    slug, title = "invitation-not-found", "Invitation not found"


class InvitationAlreadyAccepted(Conflict):
    slug, title = "invitation-already-accepted", "Invitation already accepted"


class InvitationExpired(Gone):
    slug, title = "invitation-expired", "Invitation expired"


class InvitationRevoked(Gone):
    slug, title = "invitation-revoked", "Invitation revoked"


def hash_invitation_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def invitation_token_tenant(token: str) -> uuid.UUID | None:
    match = _TOKEN.match(token)
    return uuid.UUID(hex=match.group(1)) if match else None


def invitation_state(invitation: Invitation, now: datetime) -> InvitationState:
    if invitation.accepted_at is not None:
        return "accepted"
    if invitation.revoked_at is not None:
        return "revoked"
    return "expired" if invitation.expires_at <= now else "pending"


def ensure_open(invitation: Invitation) -> None:
    """The error for an invitation that has ended, as its token is presented again."""
    state = invitation_state(invitation, datetime.now(UTC))
    if state == "accepted":
        raise InvitationAlreadyAccepted("this invitation has already been accepted")
    if state == "revoked":
        raise InvitationRevoked("this invitation was revoked; ask for a new one")
    if state == "expired":
        raise InvitationExpired("this invitation has expired; ask for a new one")


@dataclass(frozen=True)
class NewInvitation:
    invitation: Invitation
    token: str


@dataclass(frozen=True)
class InvitationPreview:
    """What accepting an invitation would do: join `agency` as `invitation.role`."""

    invitation: Invitation
    agency: Agency
    inviter: User


class InvitationService:
    async def invite(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        principal: Principal,
        *,
        email: str,
        role: Role,
        client_id: uuid.UUID | None,
    ) -> NewInvitation:
        if principal.api_key_id is not None:
            raise PermissionDenied("invitations are sent by people, not API keys")
        principal.require_verified_email("invite people")
        principal = await with_current_role(session, principal, "members.invite")
        ensure_may_assign(principal, role.value)
        email = email.lower()
        if role is Role.CLIENT:
            if client_id is None:
                raise field_error("client_id", "a client invitation must name its client_id")
            await ensure_client_exists(principal, CrmClient.of(settings), client_id)
        elif client_id is not None:
            raise field_error("client_id", "only client invitations name a client_id")
        existing = await account_repository.user_by_email(session, email)
        if existing is not None:
            found = await account_repository.membership(session, principal.tenant_id, existing.id)
            if found is not None:
                raise Conflict("this person is already a member of the agency")
        agency = await account_repository.agency(session, principal.tenant_id)
        inviter = await account_repository.user_by_id(session, principal.user_id)
        if agency is None or inviter is None:
            raise NotFound("the agency or your account no longer exists")
        await invitation_repository.revoke_pending_for_email(session, principal.tenant_id, email)
        token = f"inv_{secrets.token_urlsafe(32)}.{principal.tenant_id.hex}"
        invitation = Invitation(
            tenant_id=principal.tenant_id,
            id=uuid.uuid4(),
            email=email,
            role=role.value,
            client_id=client_id,
            token_hash=hash_invitation_token(token),
            invited_by=principal.user_id,
            expires_at=datetime.now(UTC) + timedelta(seconds=settings.invitation_ttl_seconds),
        )
        session.add(invitation)
        await session.flush()
        await publish(
            session,
            InvitationCreated(
                agency_id=agency.id,
                agency_name=agency.name,
                invitation_id=invitation.id,
                email=email,
                role=role.value,
                invited_by=inviter.id,
                inviter_name=inviter.name,
                token=token,
                expires_at=invitation.expires_at,
            ),
            source_service=SERVICE,
            subject=f"invitations/{invitation.id}",
        )
        await record_audit(
            session,
            action="invitation.created",
            entity_type="invitation",
            entity_id=invitation.id,
            actor=principal,
            source_service=SERVICE,
            after={
                "email": email,
                "role": role.value,
                "client_id": str(client_id) if client_id else None,
                "expires_at": invitation.expires_at.isoformat(),
            },
        )
        return NewInvitation(invitation, token)

    async def invite_client(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        principal: Principal,
        *,
        email: str,
        client_id: uuid.UUID,
    ) -> NewInvitation:
        """A portal invitation (CRM asks, from a client's contact): `invite` as a client user,
        except that an open invitation to the address is a Conflict rather than replaced (the
        contact already has a link on its way)."""
        if principal.api_key_id is not None:
            raise PermissionDenied("invitations are sent by people, not API keys")
        principal.require_verified_email("invite people")
        principal = await with_current_role(session, principal, "members.invite")
        email = email.lower()
        existing = await account_repository.user_by_email(session, email)
        if existing is not None and await account_repository.membership(
            session, principal.tenant_id, existing.id
        ):
            raise Conflict("this person is already a member of the agency")
        if await invitation_repository.has_open_for_email(session, principal.tenant_id, email):
            raise Conflict("this person already has an open invitation to the agency")
        return await self.invite(
            session, settings, principal, email=email, role=Role.CLIENT, client_id=client_id
        )

    async def list_invitations(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        state: InvitationState | None,
        page: int,
        per_page: int,
    ) -> tuple[Sequence[Invitation], int]:
        return await invitation_repository.page(
            session,
            principal.tenant_id,
            state=state,
            now=datetime.now(UTC),
            page=page,
            per_page=per_page,
        )

    async def revoke(
        self, session: AsyncSession, principal: Principal, invitation_id: uuid.UUID
    ) -> None:
        invitation = await invitation_repository.get_for_update(
            session, principal.tenant_id, invitation_id
        )
        if invitation is None:
            raise InvitationNotFound("no such invitation")
        principal.require_verified_email("invite people")
        principal = await with_current_role(session, principal, "members.invite")
        ensure_may_assign(principal, invitation.role)
        state = invitation_state(invitation, datetime.now(UTC))
        if state == "accepted":
            raise InvitationAlreadyAccepted("this invitation has already been accepted")
        if state == "revoked":
            raise InvitationRevoked("this invitation was already revoked")
        invitation.revoked_at = utcnow()
        await session.flush()
        await record_audit(
            session,
            action="invitation.revoked",
            entity_type="invitation",
            entity_id=invitation.id,
            actor=principal,
            source_service=SERVICE,
            before={"state": state},
            after={"state": "revoked"},
            detail={"email": invitation.email, "role": invitation.role},
        )

    async def preview(self, session: AsyncSession, *, token: str) -> InvitationPreview:
        """What accepting `token` would do, changing nothing (an emailed link is followed with
        a GET, and mail scanners follow links too). The session must run under the token's
        agency; an invitation that has ended gets the error accepting it would."""
        invitation = await invitation_repository.by_hash(session, hash_invitation_token(token))
        if invitation is None:
            raise InvitationNotFound("no such invitation; ask for a new one")
        ensure_open(invitation)
        agency = await account_repository.agency(session, invitation.tenant_id)
        inviter = await account_repository.user_by_id(session, invitation.invited_by)
        # The invitation's row references both.
        assert agency is not None
        assert inviter is not None
        return InvitationPreview(invitation, agency, inviter)

    async def accept(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        *,
        token: str,
        principal: Principal | None,
        name: str | None,
        password: str | None,
        client: ClientInfo | None = None,
    ) -> SessionGrant:
        """Join the agency. The session must run under the token's agency.

        Who joins: the logged-in caller when a token is sent (its email must be the one
        invited); otherwise the invited email's account, proven by its password, or a new
        account made from `name` and `password`."""
        invitation = await invitation_repository.by_hash_for_update(
            session, hash_invitation_token(token)
        )
        if invitation is None:
            raise InvitationNotFound("no such invitation; ask for a new one")
        ensure_open(invitation)
        user = await self._joining_user(session, invitation, settings, principal, name, password)
        if await account_repository.membership(session, invitation.tenant_id, user.id):
            raise Conflict("you are already a member of this agency")
        if user.email_verified_at is None:
            # The invitation reached them at this address: that proves it.
            user.email_verified_at = utcnow()
        membership = Membership(
            tenant_id=invitation.tenant_id,
            id=uuid.uuid4(),
            user_id=user.id,
            role=invitation.role,
            client_id=invitation.client_id,
        )
        session.add(membership)
        invitation.accepted_at = utcnow()
        invitation.accepted_by = user.id
        await session.flush()
        await role_service.lock_permissions(session, invitation.tenant_id)
        await publish(
            session,
            MemberAdded(
                agency_id=invitation.tenant_id,
                user_id=user.id,
                email=user.email,
                name=user.name,
                role=membership.role,
                client_id=membership.client_id,
                permissions=sorted(await role_service.effective_permissions(session, membership)),
            ),
            source_service=SERVICE,
            subject=f"members/{user.id}",
        )
        await publish(
            session,
            InvitationAccepted(
                agency_id=invitation.tenant_id,
                invitation_id=invitation.id,
                user_id=user.id,
                email=user.email,
                name=user.name,
                role=membership.role,
                invited_by=invitation.invited_by,
            ),
            source_service=SERVICE,
            subject=f"invitations/{invitation.id}",
        )
        await record_audit(
            session,
            action="invitation.accepted",
            entity_type="invitation",
            entity_id=invitation.id,
            actor=AuditActor("user", str(user.id), label=user.email),
            source_service=SERVICE,
            after={"user_id": str(user.id), "role": membership.role},
            detail={"email": user.email, "invited_by": str(invitation.invited_by)},
            tenant_id=invitation.tenant_id,
        )
        agency = await account_repository.agency(session, invitation.tenant_id)
        assert agency is not None  # the invitation's tenant row references it
        tokens = await issue_tokens(session, settings, membership, client=client)
        return SessionGrant(agency, user, membership, tokens)

    async def _joining_user(
        self,
        session: AsyncSession,
        invitation: Invitation,
        settings: IdentitySettings,
        principal: Principal | None,
        name: str | None,
        password: str | None,
    ) -> User:
        if principal is not None:
            user = await account_repository.user_by_id(session, principal.user_id)
            if user is None or principal.api_key_id is not None:
                raise PermissionDenied("only a person's account can accept an invitation")
            if user.email != invitation.email:
                raise PermissionDenied("this invitation was sent to another email address")
            if principal.restricted is not None:
                raise restriction_error(principal.restricted)
            return user
        existing = await account_repository.user_by_email(session, invitation.email)
        if existing is not None:
            # Proving the account is the invited person's: its password, as at login.
            if not password or not await verify_password(
                settings, existing.password_hash, password
            ):
                raise Unauthenticated(
                    "this email already has an account: give its password, or accept the "
                    "invitation while logged in"
                )
            if await two_factor_repository.is_enabled(session, existing.id):
                # A password alone must never sign in an account with two-factor on.
                raise PermissionDenied(
                    "this account has two-factor sign-in on: sign in (with your code) and "
                    "accept the invitation with your access token"
                )
            return existing
        if not name:
            raise field_error("name", "a name is required to create your account")
        if not password or len(password) < _PASSWORD_MIN:
            raise field_error(
                "password", f"a password of at least {_PASSWORD_MIN} characters is required"
            )
        user = User(
            id=uuid.uuid4(),
            email=invitation.email,
            name=name,
            password_hash=await hash_password(settings, password),
        )
        try:
            async with session.begin_nested():
                session.add(user)
                await session.flush()
        except IntegrityError as exc:  # the same email signed up a moment ago
            raise Conflict("an account with this email was just created; accept again") from exc
        return user


invitation_service = InvitationService()
