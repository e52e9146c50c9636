import uuid
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, String, UniqueConstraint, func
from sqlalchemy.orm import Mapped, mapped_column

from agencyos.identity.models import Base


class SignInDevice(Base):
    """A (user agent, network) a user has signed in from: a sign-in from one not seen before
    sends them a notice. `fingerprint` is the SHA-256 of the user agent and the network (/24
    for IPv4, /48 for IPv6), so the table holds neither. Global like `users`: the person's
    devices, whatever agency they signed into."""

    __tablename__ = "sign_in_devices"
    __table_args__ = (UniqueConstraint("user_id", "fingerprint"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"))
    fingerprint: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
    last_seen_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now()
    )
