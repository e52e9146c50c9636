"""Two-factor sign-in (TOTP): enrolling, confirming, the second step of a sign-in, disabling,
backup codes; and each agency's enforcement policy.

Two-factor belongs to the account (the user), across their agencies; an API key has none.
Every code check goes through `_check_code`: the per-account lockout first, then the TOTP
code (window ±1 step, only steps after the last one used) or a backup code (spent at once).
"""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import AuditActor, record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import TENANT_SETTING, USER_SETTING, set_local
from agencyos.common.errors import Conflict, NotFound, PermissionDenied, field_error
from agencyos.common.sealing import Sealer
from agencyos.identity.account.repository import account_repository
from agencyos.identity.account.service import SessionGrant
from agencyos.identity.mfa.challenges import user_agent_hash
from agencyos.identity.mfa.codes import (
    Enrollment,
    enrollment,
    hash_backup_code,
    matching_step,
    new_backup_codes,
    new_secret,
    sha256_hex,
)
from agencyos.identity.mfa.lockout import TwoFactorLockout
from agencyos.identity.mfa.repository import session_family, two_factor_repository
from agencyos.identity.models import UserTwoFactor
from agencyos.identity.revocations import Revoker
from agencyos.identity.session.repository import session_repository
from agencyos.identity.settings import IdentitySettings
from agencyos.identity.tokens.issuer import ClientInfo, issue_tokens

SERVICE = "identity"
SEALING_PURPOSE = "identity totp secrets v1"
_WRONG_CODE = "the code is not correct (or was already used)"
_NO_KEYS = "two-factor sign-in belongs to a person's account; an API key has none"


def _context(user_id: uuid.UUID) -> str:
    return f"totp:{user_id}"


class VerifyRefusal(enum.Enum):
    """Why the second step was refused: `WRONG_CODE` tells the caller to try again, every
    other reason is one answer (the mfa_token is no good: sign in again)."""

    UNKNOWN = "unknown"
    EXPIRED = "expired"
    USED = "used"
    EXHAUSTED = "exhausted"
    OTHER_CLIENT = "other_client"
    NOT_ENROLLED = "not_enrolled"
    MEMBERSHIP_INACTIVE = "membership_inactive"
    WRONG_CODE = "wrong_code"


@dataclass(frozen=True)
class Confirmed:
    backup_codes: list[str]
    grant: SessionGrant


@dataclass(frozen=True)
class TwoFactorStatus:
    enabled: bool
    enabled_at: datetime | None
    backup_codes_left: int


@dataclass(frozen=True)
class TwoFactorPolicy:
    """`required_for`: "nobody", "everyone", or the roles that must have it."""

    required_for: str | list[str]


class TwoFactorService:
    def _sealer(self, settings: IdentitySettings) -> Sealer:
        return Sealer(settings.key_encryption_key, purpose=SEALING_PURPOSE)

    def _person(self, principal: Principal) -> None:
        if principal.api_key_id is not None:
            raise PermissionDenied(_NO_KEYS)

    async def status(self, session: AsyncSession, principal: Principal) -> TwoFactorStatus:
        self._person(principal)
        record = await two_factor_repository.for_user(session, principal.user_id)
        enabled = record is not None and record.enabled_at is not None
        left = await two_factor_repository.unused_backup_codes(session, principal.user_id)
        return TwoFactorStatus(enabled, record.enabled_at if record else None, left)

    async def enroll(
        self, session: AsyncSession, settings: IdentitySettings, principal: Principal
    ) -> Enrollment:
        """A new secret, pending until confirmed (replacing a pending one)."""
        self._person(principal)
        user = await account_repository.user_by_id(session, principal.user_id)
        if user is None:
            raise NotFound("your account no longer exists")
        record = await two_factor_repository.for_user(session, user.id, for_update=True)
        if record is not None and record.enabled_at is not None:
            raise Conflict(
                "two-factor sign-in is already on; disable it first to enroll a new device"
            )
        secret = new_secret()
        sealed = self._sealer(settings).seal(secret.encode(), context=_context(user.id))
        if record is None:
            record = UserTwoFactor(user_id=user.id)
            session.add(record)
        record.pending_secret_sealed = sealed
        record.updated_at = datetime.now(UTC)
        await session.flush()
        return enrollment(secret, account=user.email, issuer=settings.two_factor_issuer)

    async def confirm(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        principal: Principal,
        *,
        code: str,
        lockout: TwoFactorLockout,
        revoker: Revoker,
        client: ClientInfo,
    ) -> Confirmed:
        """Turn two-factor on with a code of the pending secret; answers the backup codes and
        a new session (signed in with both factors) in place of the calling one, which ends:
        a token restricted to enrolling stops working."""
        self._person(principal)
        record = await two_factor_repository.for_user(session, principal.user_id, for_update=True)
        if record is not None and record.enabled_at is not None:
            raise Conflict("two-factor sign-in is already on")
        if record is None or record.pending_secret_sealed is None:
            raise Conflict("nothing to confirm: enroll first (POST /v1/auth/2fa/enroll)")
        secret = self._open(settings, record.pending_secret_sealed, principal.user_id)
        await lockout.begin(str(principal.user_id))
        step = matching_step(secret, code, after=record.last_used_step)
        if step is None:
            raise field_error("code", _WRONG_CODE, "wrong_code")
        await lockout.succeeded(str(principal.user_id))
        now = datetime.now(UTC)
        record.secret_sealed = record.pending_secret_sealed
        record.pending_secret_sealed = None
        record.enabled_at = now
        record.last_used_step = step
        record.updated_at = now
        await session.flush()
        codes = await self._new_backup_codes(session, principal.user_id)
        await record_audit(
            session,
            action="auth.2fa_enabled",
            entity_type="user",
            entity_id=principal.user_id,
            actor=principal,
            source_service=SERVICE,
            before={"two_factor": False},
            after={"two_factor": True},
            detail={"backup_codes_issued": len(codes)},
        )
        grant = await self._replace_session(session, settings, principal, revoker, client)
        return Confirmed(codes, grant)

    async def _replace_session(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        principal: Principal,
        revoker: Revoker,
        client: ClientInfo,
    ) -> SessionGrant:
        found = await account_repository.membership(session, principal.tenant_id, principal.user_id)
        agency = await account_repository.agency(session, principal.tenant_id)
        if found is None or agency is None:
            raise NotFound("your membership in this agency no longer exists")
        membership, user = found
        amr = ["pwd"]
        family = session_family(principal)
        if family is not None:
            amr = await two_factor_repository.session_amr(session, family, user.id) or amr
            await session_repository.revoke_families(session, [family], user.id)
            await revoker.sessions([family])
        amr = [m for m in amr if m != "otp"] + ["otp"]
        tokens = await issue_tokens(session, settings, membership, client=client, amr=amr)
        return SessionGrant(agency, user, membership, tokens)

    async def disable(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        code: str | None,
        backup_code: str | None,
        lockout: TwoFactorLockout,
        settings: IdentitySettings,
    ) -> None:
        record = await self._enabled(session, principal)
        await self._require_code(session, settings, record, code, backup_code, lockout)
        record.secret_sealed = None
        record.pending_secret_sealed = None
        record.enabled_at = None
        record.last_used_step = None
        record.updated_at = datetime.now(UTC)
        await two_factor_repository.delete_backup_codes(session, principal.user_id)
        await session.flush()
        await record_audit(
            session,
            action="auth.2fa_disabled",
            entity_type="user",
            entity_id=principal.user_id,
            actor=principal,
            source_service=SERVICE,
            before={"two_factor": True},
            after={"two_factor": False},
            detail={"with": "backup_code" if backup_code else "code"},
        )

    async def regenerate_backup_codes(
        self,
        session: AsyncSession,
        principal: Principal,
        *,
        code: str | None,
        backup_code: str | None,
        lockout: TwoFactorLockout,
        settings: IdentitySettings,
    ) -> list[str]:
        record = await self._enabled(session, principal)
        await self._require_code(session, settings, record, code, backup_code, lockout)
        codes = await self._new_backup_codes(session, principal.user_id)
        await record_audit(
            session,
            action="auth.2fa_backup_codes_regenerated",
            entity_type="user",
            entity_id=principal.user_id,
            actor=principal,
            source_service=SERVICE,
            detail={"backup_codes_issued": len(codes)},
        )
        return codes

    async def verify(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        *,
        mfa_token: str,
        code: str | None,
        backup_code: str | None,
        lockout: TwoFactorLockout,
        client: ClientInfo,
    ) -> SessionGrant | VerifyRefusal:
        """The second step of a sign-in. Returns a refusal rather than raising: the count of
        wrong codes on the challenge (and its audit record) must be committed although the
        caller is answered 401. The session starts with no tenant."""
        challenge = await two_factor_repository.challenge_for_update(session, sha256_hex(mfa_token))
        if challenge is None:
            return VerifyRefusal.UNKNOWN
        if challenge.used_at is not None:
            return VerifyRefusal.USED
        if challenge.failed_attempts >= settings.mfa_token_max_attempts:
            return VerifyRefusal.EXHAUSTED
        if challenge.expires_at <= datetime.now(UTC):
            return VerifyRefusal.EXPIRED
        if challenge.user_agent_hash != user_agent_hash(client):
            # Another client holds this token: it was copied. It works no more.
            challenge.used_at = datetime.now(UTC)
            return VerifyRefusal.OTHER_CLIENT
        user_id = challenge.user_id
        await set_local(
            session, {USER_SETTING: str(user_id), TENANT_SETTING: str(challenge.tenant_id)}
        )
        record = await two_factor_repository.for_user(session, user_id, for_update=True)
        if record is None or record.enabled_at is None or record.secret_sealed is None:
            challenge.used_at = datetime.now(UTC)
            return VerifyRefusal.NOT_ENROLLED
        if not await self._code_matches(session, settings, record, code, backup_code, lockout):
            challenge.failed_attempts += 1
            user = await account_repository.user_by_id(session, user_id)
            await record_audit(
                session,
                action="auth.2fa_failed",
                entity_type="user",
                entity_id=user_id,
                actor=AuditActor("user", str(user_id)),
                actor_label=user.email if user else None,
                source_service=SERVICE,
                detail={
                    "method": "backup_code" if backup_code else "code",
                    "failed_attempts": challenge.failed_attempts,
                    "mfa_token_exhausted": (
                        challenge.failed_attempts >= settings.mfa_token_max_attempts
                    ),
                },
                tenant_id=challenge.tenant_id,
            )
            await session.flush()
            return VerifyRefusal.WRONG_CODE
        challenge.used_at = datetime.now(UTC)
        found = await account_repository.membership(session, challenge.tenant_id, user_id)
        agency = await account_repository.agency(session, challenge.tenant_id)
        if found is None or found[0].status != "active" or agency is None:
            return VerifyRefusal.MEMBERSHIP_INACTIVE
        membership, user = found
        await set_local(session, {TENANT_SETTING: str(agency.id)})
        tokens = await issue_tokens(
            session, settings, membership, client=client, amr=[challenge.first_factor, "otp"]
        )
        await record_audit(
            session,
            action="auth.login_succeeded",
            entity_type="user",
            entity_id=user.id,
            actor=AuditActor("user", str(user.id), label=user.email),
            source_service=SERVICE,
            detail={
                "method": ("magic_link+" if challenge.first_factor == "email" else "password+")
                + ("backup_code" if backup_code else "totp"),
                "session_id": str(tokens.session_id),
            },
        )
        return SessionGrant(agency, user, membership, tokens)

    # --- codes ---------------------------------------------------------------------------------

    def _open(self, settings: IdentitySettings, sealed: str, user_id: uuid.UUID) -> str:
        return self._sealer(settings).open(sealed, context=_context(user_id)).decode()

    async def _enabled(self, session: AsyncSession, principal: Principal) -> UserTwoFactor:
        self._person(principal)
        record = await two_factor_repository.for_user(session, principal.user_id, for_update=True)
        if record is None or record.enabled_at is None:
            raise Conflict("two-factor sign-in is not on for your account")
        return record

    async def _require_code(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        record: UserTwoFactor,
        code: str | None,
        backup_code: str | None,
        lockout: TwoFactorLockout,
    ) -> None:
        if not await self._code_matches(session, settings, record, code, backup_code, lockout):
            field = "backup_code" if backup_code else "code"
            raise field_error(field, _WRONG_CODE, "wrong_code")

    async def _code_matches(
        self,
        session: AsyncSession,
        settings: IdentitySettings,
        record: UserTwoFactor,
        code: str | None,
        backup_code: str | None,
        lockout: TwoFactorLockout,
    ) -> bool:
        """Check a TOTP code (and record its step) or spend a backup code; `record` is held
        FOR UPDATE. Counted by the per-account lockout, which may raise 429 first."""
        assert record.secret_sealed is not None
        await lockout.begin(str(record.user_id))
        if code is not None:
            secret = self._open(settings, record.secret_sealed, record.user_id)
            step = matching_step(secret, code, after=record.last_used_step)
            matched = step is not None
            if step is not None:
                record.last_used_step = step
                record.updated_at = datetime.now(UTC)
        elif backup_code is not None:
            matched = await two_factor_repository.spend_backup_code(
                session, record.user_id, hash_backup_code(record.user_id, backup_code)
            )
        else:
            matched = False
        if matched:
            await lockout.succeeded(str(record.user_id))
        return matched

    async def _new_backup_codes(self, session: AsyncSession, user_id: uuid.UUID) -> list[str]:
        codes = new_backup_codes()
        await two_factor_repository.replace_backup_codes(
            session, user_id, [hash_backup_code(user_id, c) for c in codes]
        )
        return codes

    # --- the agency's policy -------------------------------------------------------------------

    async def policy(self, session: AsyncSession, principal: Principal) -> TwoFactorPolicy:
        agency = await account_repository.agency(session, principal.tenant_id)
        if agency is None:
            raise NotFound("your agency no longer exists")
        return _policy_of(agency.two_factor_required, agency.two_factor_roles)

    async def set_policy(
        self, session: AsyncSession, principal: Principal, required_for: str | list[str]
    ) -> TwoFactorPolicy:
        agency = await account_repository.agency(session, principal.tenant_id)
        if agency is None:
            raise NotFound("your agency no longer exists")
        before = _policy_of(agency.two_factor_required, agency.two_factor_roles)
        if isinstance(required_for, list):
            agency.two_factor_required, agency.two_factor_roles = "roles", sorted(required_for)
        else:
            agency.two_factor_required, agency.two_factor_roles = required_for, []
        await session.flush()
        after = _policy_of(agency.two_factor_required, agency.two_factor_roles)
        if after != before:
            await record_audit(
                session,
                action="agency.two_factor_policy_changed",
                entity_type="agency",
                entity_id=agency.id,
                actor=principal,
                source_service=SERVICE,
                before={"required_for": before.required_for},
                after={"required_for": after.required_for},
            )
        return after


def _policy_of(required: str, roles: list[str]) -> TwoFactorPolicy:
    return TwoFactorPolicy(sorted(roles) if required == "roles" else required)


two_factor_service = TwoFactorService()
