"""Signup, login and the current user's view of themselves."""

from __future__ import annotations

import re
import secrets
import unicodedata
import uuid
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import AuditActor, record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import TENANT_SETTING, USER_SETTING, set_local
from agencyos.common.errors import Conflict, NotFound, PermissionDenied, Unauthenticated
from agencyos.common.events import AgencyCreated, MemberAdded
from agencyos.common.outbox import publish
from agencyos.common.permissions import Role
from agencyos.identity.account.lockout import LoginLockout
from agencyos.identity.account.repository import account_repository
from agencyos.identity.api_key.repository import api_key_repository
from agencyos.identity.mfa.challenges import ChallengeGrant, start_challenge
from agencyos.identity.mfa.repository import session_family, two_factor_repository
from agencyos.identity.models import Agency, ApiKey, Membership, User
from agencyos.identity.passwords import hash_password, verify_password
from agencyos.identity.role.service import role_service
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.sso.enforcement import (
    choose_for_password,
    ensure_not_single_sign_on_session,
    is_single_sign_on_session,
)
from agencyos.identity.tokens.issuer import ClientInfo, TokenPair, issue_tokens
from agencyos.identity.verification.service import verification_service

SERVICE = "identity"
_INVALID_LOGIN = "the email or password is not correct"
# The same for an agency that does not exist: a switch must not reveal which ids exist.
_NOT_A_MEMBER = "you are not an active member of that agency"


@dataclass(frozen=True)
class SessionGrant:
    agency: Agency
    user: User
    membership: Membership
    tokens: TokenPair


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")[:50].strip("-")
    return slug or "agency"


class AccountService:
    async def signup(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        *,
        agency_name: str,
        email: str,
        password: str,
        name: str,
        client: ClientInfo | None = None,
    ) -> SessionGrant:
        """Create an agency and its owner. The transaction works under the new tenant."""
        email = email.lower()
        if await account_repository.user_by_email(session, email) is not None:
            raise Conflict("an account with this email already exists; log in instead")
        agency_id = uuid.uuid4()
        await set_local(session, {TENANT_SETTING: str(agency_id)})
        user = User(
            id=uuid.uuid4(),
            email=email,
            name=name,
            password_hash=await hash_password(settings, password),
        )
        session.add(user)
        try:
            async with session.begin_nested():
                await session.flush()
        except IntegrityError as exc:
            raise Conflict("an account with this email already exists; log in instead") from exc
        await set_local(session, {USER_SETTING: str(user.id)})
        agency = await self._create_agency(session, agency_id, agency_name)
        membership = Membership(tenant_id=agency.id, user_id=user.id, role=Role.OWNER.value)
        session.add(membership)
        await session.flush()
        await publish(
            session,
            AgencyCreated(
                agency_id=agency.id,
                slug=agency.slug,
                name=agency.name,
                owner_user_id=user.id,
                currency=agency.currency,
                timezone=agency.timezone,
            ),
            source_service=SERVICE,
            subject=f"agencies/{agency.id}",
        )
        await publish(
            session,
            MemberAdded(
                agency_id=agency.id,
                user_id=user.id,
                email=user.email,
                name=user.name,
                role=membership.role,
                client_id=None,
                permissions=sorted(await role_service.effective_permissions(session, membership)),
            ),
            source_service=SERVICE,
            subject=f"members/{user.id}",
        )
        # The owner proves their address with the emailed link; until then their tokens say
        # `email_verified: false` (verification/service.py).
        await verification_service.send(session, settings, user)
        tokens = await issue_tokens(session, settings, membership, client=client)
        return SessionGrant(agency, user, membership, tokens)

    async def _create_agency(
        self, session: AsyncSession, agency_id: uuid.UUID, name: str
    ) -> Agency:
        base = slugify(name)
        for attempt in range(8):
            slug = base if attempt == 0 else f"{base}-{secrets.token_hex(3)}"
            agency = Agency(id=agency_id, slug=slug, name=name)
            try:
                async with session.begin_nested():
                    session.add(agency)
                    await session.flush()
                return agency
            except IntegrityError:
                continue  # the savepoint's rollback already dropped the pending row
        raise Conflict("could not find a free slug for this agency name; try another name")

    async def login(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        *,
        email: str,
        password: str,
        agency_slug: str | None,
        lockout: LoginLockout,
        client: ClientInfo | None = None,
    ) -> SessionGrant | ChallengeGrant:
        """Errors never tell whether the email exists (an unknown one locks out the same).
        An account with two-factor on gets a challenge (an mfa_token) instead of tokens."""
        await lockout.begin(email)
        user = await account_repository.user_by_email(session, email)
        known = await verify_password(settings, user.password_hash if user else None, password)
        if not known or user is None:
            raise Unauthenticated(_INVALID_LOGIN)
        await lockout.succeeded(email)
        await set_local(session, {USER_SETTING: str(user.id)})
        memberships = [
            (m, a)
            for m, a in await account_repository.memberships_of(session, user.id)
            if m.status == "active" and (agency_slug is None or a.slug == agency_slug)
        ]
        if not memberships:
            raise Unauthenticated(_INVALID_LOGIN)
        # An agency that requires single sign-on refuses its members' passwords (not owners').
        membership, agency = await choose_for_password(session, memberships)
        if await two_factor_repository.is_enabled(session, user.id):
            return await start_challenge(
                session, settings, user=user, agency=agency, membership=membership, client=client
            )
        await set_local(session, {TENANT_SETTING: str(agency.id)})
        tokens = await issue_tokens(session, settings, membership, client=client)
        await record_audit(
            session,
            action="auth.login_succeeded",
            entity_type="user",
            entity_id=user.id,
            actor=AuditActor("user", str(user.id), label=user.email),
            source_service=SERVICE,
            detail={"method": "password", "session_id": str(tokens.session_id)},
        )
        return SessionGrant(agency, user, membership, tokens)

    async def record_failed_login(self, session: AsyncSession, *, email: str, reason: str) -> None:
        """Record a refused sign-in in every agency where `email` names an active member, in
        `session`: a transaction of its own, opened with no tenant (the login's own rolls
        back). An email that names nobody records nothing: there is no agency to tell."""
        user = await account_repository.user_by_email(session, email)
        if user is None:
            return
        await set_local(session, {USER_SETTING: str(user.id)})
        for membership, agency in await account_repository.memberships_of(session, user.id):
            if membership.status != "active":
                continue
            await set_local(session, {TENANT_SETTING: str(agency.id)})
            await record_audit(
                session,
                action="auth.login_failed",
                entity_type="user",
                entity_id=user.id,
                # Whoever typed the email is not known to be its owner.
                actor=AuditActor("anonymous", label=user.email),
                source_service=SERVICE,
                detail={"reason": reason},
            )

    async def switch_agency(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        principal: Principal,
        *,
        agency_id: uuid.UUID,
        client: ClientInfo | None = None,
    ) -> SessionGrant:
        """Tokens for another agency the caller actively belongs to (a new session there).

        The caller's own memberships are visible in any agency (user policy), so the lookup
        works under the current tenant; the tokens are then issued under the new one.
        """
        await ensure_not_single_sign_on_session(session, principal)
        found = await account_repository.membership(session, agency_id, principal.user_id)
        if found is None or found[0].status != "active":
            raise PermissionDenied(_NOT_A_MEMBER)
        membership, user = found
        agency = await account_repository.agency(session, agency_id)
        if agency is None:
            raise PermissionDenied(_NOT_A_MEMBER)
        # The new session signed in the way the current one did (its `amr`).
        family = session_family(principal)
        amr = (
            await two_factor_repository.session_amr(session, family, principal.user_id)
            if family is not None
            else None
        )
        await set_local(session, {TENANT_SETTING: str(agency.id)})
        tokens = await issue_tokens(session, settings, membership, client=client, amr=amr)
        # Recorded in the agency the new session is in: the one whose log should show it.
        await record_audit(
            session,
            action="auth.agency_switched",
            entity_type="user",
            entity_id=user.id,
            actor=principal,
            source_service=SERVICE,
            detail={
                "from_agency_id": str(principal.tenant_id),
                "session_id": str(tokens.session_id),
            },
        )
        return SessionGrant(agency, user, membership, tokens)

    async def me(
        self, session: AsyncSession, principal: Principal
    ) -> tuple[User, Agency, list[tuple[Membership, Agency]]]:
        found = await account_repository.membership(session, principal.tenant_id, principal.user_id)
        agency = await account_repository.agency(session, principal.tenant_id)
        if found is None or agency is None:
            raise NotFound("your membership in this agency no longer exists")
        memberships = list(await account_repository.memberships_of(session, principal.user_id))
        if await is_single_sign_on_session(session, principal):
            # a single sign-on session speaks for this agency only: nothing of the others
            memberships = [(m, a) for m, a in memberships if a.id == principal.tenant_id]
        return found[1], agency, memberships

    async def me_as_key(self, session: AsyncSession, principal: Principal) -> tuple[ApiKey, Agency]:
        """The API key the caller is (`principal.api_key_id` is set) and its agency."""
        assert principal.api_key_id is not None
        api_key = await api_key_repository.unrevoked(session, principal.api_key_id)
        agency = await account_repository.agency(session, principal.tenant_id)
        if api_key is None or agency is None:
            raise NotFound("this API key no longer exists")
        return api_key, agency


account_service = AccountService()
