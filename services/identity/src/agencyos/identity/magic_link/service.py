"""Sign-in by an emailed link (magic link), for an agency's members and chiefly its client
users, who may have no password.

Tokens read `ml_<32 random bytes, urlsafe base64>` and are stored only as their SHA-256, bound
to one user and one agency; a link works once, for `magic_link_ttl_seconds` (15 minutes).
Asking again does not end earlier links (emails arrive out of order; the per-address limit
bounds how many live at once); a sign-in with one ends the others for that agency.

Who may use one: an active member of the agency named by its slug. An agency that requires
single sign-on refuses links to its staff (except owners, as for passwords: break-glass);
client users are never signed in through the agency's provider (it is the staff's), so links
always work for them. The link proves the person reads the mailbox: the session's `amr` is
`["email"]` (not an RFC 8176 value, but the honest one), and the address is marked verified.
A user with two-factor sign-in on gets the second step (an `mfa_token`) instead of tokens.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import AuditActor, record_audit
from agencyos.common.db import TENANT_SETTING, USER_SETTING, set_local
from agencyos.common.errors import BadRequest
from agencyos.common.events import MagicLinkRequested
from agencyos.common.outbox import publish
from agencyos.common.permissions import Role
from agencyos.identity.account.repository import account_repository
from agencyos.identity.account.service import SERVICE, SessionGrant
from agencyos.identity.magic_link.limit import MagicLinkLimit
from agencyos.identity.magic_link.repository import magic_link_repository
from agencyos.identity.mfa.challenges import ChallengeGrant, start_challenge
from agencyos.identity.mfa.repository import two_factor_repository
from agencyos.identity.models import Agency, Membership, User
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.sso.enforcement import requires_sso
from agencyos.identity.tokens.issuer import ClientInfo, issue_tokens
from agencyos.identity.verification.repository import verification_repository

# The session's `amr`: the person proved they read the mailbox.
AMR = ["email"]
# One answer for every refused link: the caller learns nothing about why.
INVALID_TOKEN = "the sign-in link is not valid; request a new one"


def hash_magic_link_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_magic_link_token() -> tuple[str, str]:
    token = f"ml_{secrets.token_urlsafe(32)}"
    return token, hash_magic_link_token(token)


class MagicLinkRefused(BadRequest):
    """A refused link, with whose it was (if anyone's) so the refusal can be recorded."""

    def __init__(self, owner: tuple[uuid.UUID, uuid.UUID] | None, reason: str) -> None:
        super().__init__(INVALID_TOKEN)
        self.owner = owner
        self.reason = reason


async def may_use_magic_link(session: AsyncSession, agency: Agency, membership: Membership) -> bool:
    """Client users always; staff unless the agency requires single sign-on of them."""
    if membership.role == Role.CLIENT.value:
        return True
    return not await requires_sso(session, agency, membership)


class MagicLinkService:
    async def request(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        *,
        email: str,
        agency_slug: str,
        limit: MagicLinkLimit,
    ) -> None:
        """Email a sign-in link if `email` names an active member of `agency_slug` who may use
        one and the address is within its limit. Returns the same way in every case."""
        # Made in every case, so a known address costs about what an unknown one does.
        token, token_hash = new_magic_link_token()
        if not await limit.allow(email):
            return
        user = await account_repository.user_by_email(session, email)
        if user is None:
            return
        await set_local(session, {USER_SETTING: str(user.id)})
        found = next(
            (
                (m, a)
                for m, a in await account_repository.memberships_of(session, user.id)
                if a.slug == agency_slug and m.status == "active"
            ),
            None,
        )
        if found is None:
            return
        membership, agency = found
        if not await may_use_magic_link(session, agency, membership):
            return
        await set_local(session, {TENANT_SETTING: str(agency.id)})
        expires_at = datetime.now(UTC) + timedelta(seconds=settings.magic_link_ttl_seconds)
        await magic_link_repository.create(
            session,
            user_id=user.id,
            tenant_id=agency.id,
            token_hash=token_hash,
            expires_at=expires_at,
        )
        await publish(
            session,
            MagicLinkRequested(
                agency_id=agency.id,
                agency_slug=agency.slug,
                user_id=user.id,
                email=user.email,
                name=user.name,
                token=token,
                expires_at=expires_at,
                role=membership.role,
            ),
            source_service=SERVICE,
            subject=f"users/{user.id}",
        )
        await record_audit(
            session,
            action="auth.magic_link_requested",
            entity_type="user",
            entity_id=user.id,
            # Whoever typed the address is not known to be its owner.
            actor=AuditActor("anonymous", label=user.email),
            source_service=SERVICE,
            detail={"expires_at": expires_at.isoformat()},
        )

    async def check(self, session: AsyncSession, *, token: str) -> datetime:
        """When `token` stops working, if it would be accepted now; spends nothing."""
        expires_at = await magic_link_repository.live_expiry(session, hash_magic_link_token(token))
        if expires_at is None:
            raise BadRequest(INVALID_TOKEN)
        return expires_at

    async def verify(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        *,
        token: str,
        client: ClientInfo | None,
    ) -> SessionGrant | ChallengeGrant:
        """Spend the link and sign its user in to its agency (or start the second step).
        Raises MagicLinkRefused (a 400 that says nothing of why) for any refused link."""
        token_hash = hash_magic_link_token(token)
        spent = await magic_link_repository.spend(session, token_hash)
        if spent is None:
            owner = await magic_link_repository.owner(session, token_hash)
            raise MagicLinkRefused(owner, "link_used_or_expired" if owner else "unknown_link")
        user_id, tenant_id = spent
        await set_local(session, {USER_SETTING: str(user_id)})
        found = await account_repository.membership(session, tenant_id, user_id)
        agency = await account_repository.agency(session, tenant_id)
        if found is None or found[0].status != "active" or agency is None:
            raise MagicLinkRefused(spent, "membership_inactive")
        membership, user = found
        if not await may_use_magic_link(session, agency, membership):
            raise MagicLinkRefused(spent, "sso_required")
        await magic_link_repository.expire_unused(session, user_id, tenant_id)
        await self._mark_verified(session, user, agency)
        if await two_factor_repository.is_enabled(session, user.id):
            return await start_challenge(
                session,
                settings,
                user=user,
                agency=agency,
                membership=membership,
                client=client,
                first_factor=AMR[0],
            )
        await set_local(session, {TENANT_SETTING: str(agency.id)})
        tokens = await issue_tokens(session, settings, membership, client=client, amr=AMR)
        await record_audit(
            session,
            action="auth.login_succeeded",
            entity_type="user",
            entity_id=user.id,
            actor=AuditActor("user", str(user.id), label=user.email),
            source_service=SERVICE,
            detail={"method": "magic_link", "session_id": str(tokens.session_id)},
        )
        return SessionGrant(agency, user, membership, tokens)

    async def record_refusal(
        self, session: AsyncSession, *, owner: tuple[uuid.UUID, uuid.UUID], reason: str
    ) -> None:
        """Record a refused link in its agency's log, in a transaction of its own (the
        verify's rolled back)."""
        user_id, tenant_id = owner
        user = await account_repository.user_by_id(session, user_id)
        await set_local(session, {USER_SETTING: str(user_id), TENANT_SETTING: str(tenant_id)})
        await record_audit(
            session,
            action="auth.login_failed",
            entity_type="user",
            entity_id=user_id,
            actor=AuditActor("anonymous", label=user.email if user else None),
            source_service=SERVICE,
            detail={"method": "magic_link", "reason": reason},
        )

    async def _mark_verified(self, session: AsyncSession, user: User, agency: Agency) -> None:
        """Whoever opened the link reads the mailbox: the address is verified (recorded in
        the agency signed in to)."""
        if user.email_verified_at is not None:
            return
        await verification_repository.mark_verified(session, user)
        await set_local(session, {TENANT_SETTING: str(agency.id)})
        await record_audit(
            session,
            action="auth.email_verified",
            entity_type="user",
            entity_id=user.id,
            actor=AuditActor("user", str(user.id), label=user.email),
            source_service=SERVICE,
            before={"email_verified": False},
            after={"email_verified": True},
            detail={"email": user.email, "method": "magic_link"},
        )


magic_link_service = MagicLinkService()
