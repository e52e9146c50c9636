"""Sessions: refresh-token rotation with reuse detection, logout, listing and revoking."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import SYSTEM, record_audit
from agencyos.common.auth import Principal
from agencyos.common.errors import NotFound
from agencyos.identity.account.repository import account_repository
from agencyos.identity.models import RefreshToken, SessionPolicy
from agencyos.identity.revocations import Revoker
from agencyos.identity.session.repository import session_repository
from agencyos.identity.session_policy.repository import session_policy_repository
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.tokens.issuer import ClientInfo, TokenPair, hash_refresh_token, issue_tokens

SERVICE = "identity"


class RefreshRefusal(enum.Enum):
    """Why a refresh was refused. Logged, never told to the caller (one generic 401)."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    REVOKED = "revoked"
    REUSED = "reused"
    MEMBERSHIP_INACTIVE = "membership_inactive"
    # The agency's session policy: unused longer than its idle timeout, or older than its
    # absolute lifetime.
    IDLE = "idle"
    TOO_OLD = "too_old"


@dataclass(frozen=True)
class SessionView:
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    user_agent: str | None
    ip_address: str | None
    current: bool


def _session_id(principal: Principal) -> uuid.UUID | None:
    try:
        return uuid.UUID(principal.session_id) if principal.session_id else None
    except ValueError:
        return None


class SessionService:
    async def refresh(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        *,
        refresh_token: str,
        client: ClientInfo,
        revoker: Revoker,
    ) -> TokenPair | RefreshRefusal:
        """Trade a refresh token for the next pair of its family.

        Returns a refusal rather than raising: a reused token revokes its family, and that
        must be committed although the caller is answered 401. The session must be under
        the token's agency.
        """
        token = await session_repository.token_for_update(
            session, hash_refresh_token(refresh_token)
        )
        if token is None:
            return RefreshRefusal.UNKNOWN
        if token.revoked_at is not None:
            return RefreshRefusal.REVOKED
        if token.used_at is not None:
            # A used token came back: it was stolen, or a client raced itself. Either way
            # nobody can tell the holders apart, so the whole session ends.
            await session_repository.revoke_families(session, [token.family_id], token.user_id)
            await revoker.sessions([token.family_id])
            await record_audit(
                session,
                action="session.reuse_detected",
                entity_type="session",
                entity_id=token.family_id,
                actor=SYSTEM,
                source_service=SERVICE,
                detail={"user_id": str(token.user_id), "revoked": True},
            )
            return RefreshRefusal.REUSED
        now = datetime.now(UTC)
        if token.expires_at <= now:
            return RefreshRefusal.EXPIRED
        policy = await session_policy_repository.get(session, token.tenant_id)
        if policy is not None:
            outside = await self._outside_policy(session, policy, token, now)
            if outside is not None:
                # The session is over: revoke it, so it leaves the session list and its
                # access tokens stop too.
                await session_repository.revoke_families(session, [token.family_id], token.user_id)
                await revoker.sessions([token.family_id])
                return outside
        found = await account_repository.membership(session, token.tenant_id, token.user_id)
        if found is None or found[0].status != "active":
            return RefreshRefusal.MEMBERSHIP_INACTIVE
        await session_repository.mark_used(session, token)
        # The new access token carries the membership's role as it is now.
        return await issue_tokens(
            session, settings, found[0], family_id=token.family_id, client=client, amr=token.amr
        )

    @staticmethod
    async def _outside_policy(
        session: AsyncSession, policy: SessionPolicy, token: RefreshToken, now: datetime
    ) -> RefreshRefusal | None:
        """Why the agency's policy ends the session `token` belongs to, if it does. A live
        token was issued when its family was last used (login or refresh)."""
        if (
            policy.idle_timeout_minutes is not None
            and token.created_at + timedelta(minutes=policy.idle_timeout_minutes) <= now
        ):
            return RefreshRefusal.IDLE
        if policy.absolute_lifetime_hours is not None:
            started = await session_repository.family_started_at(session, token.family_id)
            if started + timedelta(hours=policy.absolute_lifetime_hours) <= now:
                return RefreshRefusal.TOO_OLD
        return None

    async def logout(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        refresh_token: str | None,
        revoker: Revoker,
    ) -> None:
        """End the caller's current session, and the one `refresh_token` belongs to if it is
        the caller's own (a token issued before sessions had ids is found this way)."""
        families: list[uuid.UUID] = []
        current = _session_id(principal)
        if current is not None:
            families.append(current)
        if refresh_token:
            token = await session_repository.users_token(
                session, hash_refresh_token(refresh_token), principal.user_id
            )
            if token is not None:
                families.append(token.family_id)
        if families:
            await session_repository.revoke_families(session, families, principal.user_id)
            await revoker.sessions(families)
        await record_audit(
            session,
            action="auth.logged_out",
            entity_type="session",
            entity_id=current,
            actor=principal,
            source_service=SERVICE,
            detail={"sessions_ended": sorted(str(f) for f in set(families))},
        )

    async def list_sessions(
        self, session: AsyncSession, principal: Principal, *, page: int, per_page: int
    ) -> tuple[Sequence[SessionView], int]:
        rows, total = await session_repository.active_sessions(
            session, principal.user_id, page=page, per_page=per_page
        )
        current = _session_id(principal)
        views = [
            SessionView(
                id=token.family_id,
                created_at=started_at,
                last_used_at=token.created_at,
                user_agent=token.user_agent,
                ip_address=token.ip_address,
                current=token.family_id == current,
            )
            for token, started_at in rows
        ]
        return views, total

    async def revoke(
        self,
        session: AsyncSession,
        principal: Principal,
        session_id: uuid.UUID,
        *,
        revoker: Revoker,
    ) -> None:
        if not await session_repository.is_active(session, session_id, principal.user_id):
            raise NotFound("no such session")
        await session_repository.revoke_families(session, [session_id], principal.user_id)
        await revoker.sessions([session_id])
        await record_audit(
            session,
            action="session.revoked",
            entity_type="session",
            entity_id=session_id,
            actor=principal,
            source_service=SERVICE,
            detail={"current": session_id == _session_id(principal)},
        )

    async def revoke_all(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        include_current: bool,
        revoker: Revoker,
    ) -> None:
        sparing = None if include_current else _session_id(principal)
        ended = await session_repository.revoke_users_families(
            session, principal.user_id, sparing=sparing
        )
        await revoker.sessions(ended)
        await record_audit(
            session,
            action="session.all_revoked",
            entity_type="user",
            entity_id=principal.user_id,
            actor=principal,
            source_service=SERVICE,
            detail={"sessions_ended": len(ended), "include_current": include_current},
        )


session_service = SessionService()
