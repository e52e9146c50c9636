"""SQL for two-factor sign-in: the account's secret, backup codes, challenges, the agency's
policy and the amr of a session."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.identity.models import (
    Agency,
    BackupCode,
    Membership,
    MfaChallenge,
    RefreshToken,
    UserTwoFactor,
)


def session_family(principal: Principal) -> uuid.UUID | None:
    """The session (refresh-token family) the caller's token belongs to, if it names one."""
    try:
        return uuid.UUID(principal.session_id) if principal.session_id else None
    except ValueError:
        return None


class TwoFactorRepository:
    async def for_user(
        self, session: AsyncSession, user_id: uuid.UUID, *, for_update: bool = False
    ) -> UserTwoFactor | None:
        stmt = select(UserTwoFactor).where(UserTwoFactor.user_id == user_id)
        if for_update:
            # Checking a code and recording its step happen under this lock: two requests
            # with the same code cannot both see it unused.
            stmt = stmt.with_for_update()
        return (
            await session.execute(stmt.execution_options(populate_existing=True))
        ).scalar_one_or_none()

    async def is_enabled(self, session: AsyncSession, user_id: uuid.UUID) -> bool:
        stmt = select(UserTwoFactor.enabled_at).where(UserTwoFactor.user_id == user_id)
        return (await session.execute(stmt)).scalar_one_or_none() is not None

    async def replace_backup_codes(
        self, session: AsyncSession, user_id: uuid.UUID, hashes: Sequence[str]
    ) -> None:
        await session.execute(delete(BackupCode).where(BackupCode.user_id == user_id))
        session.add_all(BackupCode(user_id=user_id, code_hash=h) for h in hashes)
        await session.flush()

    async def delete_backup_codes(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        await session.execute(delete(BackupCode).where(BackupCode.user_id == user_id))

    async def spend_backup_code(
        self, session: AsyncSession, user_id: uuid.UUID, code_hash: str
    ) -> bool:
        """Mark the code used if it is the user's and unused; whether it was."""
        stmt = (
            update(BackupCode)
            .where(
                BackupCode.user_id == user_id,
                BackupCode.code_hash == code_hash,
                BackupCode.used_at.is_(None),
            )
            .values(used_at=func.now())
            .returning(BackupCode.id)
        )
        return (await session.execute(stmt)).first() is not None

    async def unused_backup_codes(self, session: AsyncSession, user_id: uuid.UUID) -> int:
        stmt = select(func.count()).where(
            BackupCode.user_id == user_id, BackupCode.used_at.is_(None)
        )
        return int((await session.execute(stmt)).scalar_one())

    async def challenge_for_update(
        self, session: AsyncSession, token_hash: str
    ) -> MfaChallenge | None:
        stmt = (
            select(MfaChallenge)
            .where(MfaChallenge.token_hash == token_hash)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return (await session.execute(stmt)).scalar_one_or_none()

    async def forget_spent_challenges(self, session: AsyncSession, user_id: uuid.UUID) -> None:
        """A user's expired challenges are not kept (each sign-in makes one)."""
        await session.execute(
            delete(MfaChallenge).where(
                MfaChallenge.user_id == user_id, MfaChallenge.expires_at < datetime.now(UTC)
            )
        )

    async def required_for(self, session: AsyncSession, membership: Membership) -> bool:
        """Whether the membership's agency requires two-factor sign-in of its role."""
        stmt = select(Agency.two_factor_required, Agency.two_factor_roles).where(
            Agency.id == membership.tenant_id
        )
        row = (await session.execute(stmt)).first()
        if row is None:
            return False
        required, roles = row
        return required == "everyone" or (required == "roles" and membership.role in roles)

    async def session_amr(
        self, session: AsyncSession, family_id: uuid.UUID, user_id: uuid.UUID
    ) -> list[str] | None:
        """How the session `family_id` signed in (its latest token's `amr`)."""
        stmt = (
            select(RefreshToken.amr)
            .where(RefreshToken.family_id == family_id, RefreshToken.user_id == user_id)
            .order_by(RefreshToken.created_at.desc())
            .limit(1)
        )
        amr = (await session.execute(stmt)).scalar_one_or_none()
        return list(amr) if amr else None


two_factor_repository = TwoFactorRepository()
