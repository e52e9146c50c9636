import uuid
from datetime import datetime

from sqlalchemy import BigInteger, DateTime, ForeignKey, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.identity.models import Base


class UserTwoFactor(Base):
    """An account's TOTP secret (sealed; bound to the user), pending until confirmed.

    Global like `users`: two-factor sign-in belongs to the account, across its agencies."""

    __tablename__ = "user_two_factor"

    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), primary_key=True)
    secret_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    pending_secret_sealed: Mapped[str | None] = mapped_column(Text, default=None)
    enabled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    # The last TOTP time step accepted (replay: that step and earlier ones are refused).
    last_used_step: Mapped[int | None] = mapped_column(BigInteger, default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BackupCode(Base):
    """A single-use backup code, stored only as a SHA-256 bound to its user."""

    __tablename__ = "two_factor_backup_codes"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class MfaChallenge(Base):
    """The second step of one sign-in: its opaque `mfa_token` (stored as SHA-256), bound to
    the user, the agency the sign-in chose and the client's User-Agent."""

    __tablename__ = "mfa_challenges"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_agent_hash: Mapped[str] = mapped_column(String(64))
    ip_address: Mapped[str | None] = mapped_column(Text, default=None)
    failed_attempts: Mapped[int] = mapped_column(Integer, default=0)
    # How the first step was passed (an `amr` value: "pwd", or "email" for a magic link).
    first_factor: Mapped[str] = mapped_column(String(16), default="pwd")
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
