import uuid
from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, String, Text, func
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.identity.models import Base


class SsoConfiguration(Base):
    """An agency's OpenID Connect provider (one per agency; tenant-owned).

    The client secret is stored sealed (agencyos.common.sealing, bound to the agency); the
    endpoints are the ones the issuer's discovery document named when the configuration was
    last saved."""

    __tablename__ = "sso_configurations"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("agencies.id"), primary_key=True)
    issuer: Mapped[str] = mapped_column(String(2048))
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_sealed: Mapped[str] = mapped_column(Text)
    # lower-cased domains whose verified emails may sign in (and join on first sign-in)
    allowed_email_domains: Mapped[list[str]] = mapped_column(ARRAY(Text), default=list)
    default_role: Mapped[str] = mapped_column(String(20), default="member")
    sso_required: Mapped[bool] = mapped_column(Boolean, default=False)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    authorization_endpoint: Mapped[str] = mapped_column(String(2048))
    token_endpoint: Mapped[str] = mapped_column(String(2048))
    jwks_uri: Mapped[str] = mapped_column(String(2048))
    # client_secret_basic, or client_secret_post when the provider supports only that
    token_endpoint_auth_method: Mapped[str] = mapped_column(
        String(40), default="client_secret_basic"
    )
    updated_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), default=None)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
