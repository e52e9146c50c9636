"""email verification, per-agency session policies, sign-in devices; signing keys sealed

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 10:20:00

Users who exist before this revision count as verified (`email_verified_at` = when they
signed up): verification starts with the accounts made from now on.

`signing_keys.private_pem` becomes `private_key_sealed`. A migration cannot read the service's
settings, so it cannot seal with the key-encryption key: the rows it carries over keep their
PEM, and identity seals each one the first time it reads the signing keys after the upgrade
(tokens/keys.py, `seal_legacy_keys`, run once per process before it signs). Until then a
legacy row is read as the PEM it is.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from agencyos.common.migrations import enable_tenant_rls

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("email_verified_at", sa.DateTime(timezone=True)))
    op.execute("UPDATE users SET email_verified_at = coalesce(created_at, now())")
    # Global like `users` and `password_reset_tokens`: an address is the person's.
    op.create_table(
        "email_verification_tokens",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_index(
        "ix_email_verification_tokens_user_id", "email_verification_tokens", ["user_id"]
    )
    op.create_table(
        "session_policies",
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("agencies.id"), primary_key=True),
        sa.Column("idle_timeout_minutes", sa.Integer()),
        sa.Column("absolute_lifetime_hours", sa.Integer()),
        sa.Column(
            "ip_allowlist", ARRAY(sa.String(49)), nullable=False, server_default=sa.text("'{}'")
        ),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.CheckConstraint(
            "idle_timeout_minutes IS NULL OR idle_timeout_minutes > 0", name="idle_positive"
        ),
        sa.CheckConstraint(
            "absolute_lifetime_hours IS NULL OR absolute_lifetime_hours > 0",
            name="lifetime_positive",
        ),
    )
    enable_tenant_rls("session_policies")
    op.create_table(
        "sign_in_devices",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("first_seen_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.UniqueConstraint("user_id", "fingerprint"),
    )
    op.alter_column("signing_keys", "private_pem", new_column_name="private_key_sealed")


def downgrade() -> None:
    # Sealed keys cannot be opened here (no settings): a downgrade keeps them sealed, and
    # the old code cannot sign with them. Rotate keys after downgrading.
    op.alter_column("signing_keys", "private_key_sealed", new_column_name="private_pem")
    op.drop_table("sign_in_devices")
    op.drop_table("session_policies")
    op.drop_index("ix_email_verification_tokens_user_id", table_name="email_verification_tokens")
    op.drop_table("email_verification_tokens")
    op.drop_column("users", "email_verified_at")
