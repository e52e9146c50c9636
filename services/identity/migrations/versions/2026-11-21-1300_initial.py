"""agencies, users, memberships, refresh tokens, signing keys; platform tables; RLS

Revision ID: 0001
Revises:
Create Date: 2026-11-21 13:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from agencyos.common.migrations import (
    TENANT_PREDICATE,
    create_platform_tables,
    drop_platform_tables,
    enable_tenant_rls,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

CURRENT_USER = "NULLIF(current_setting('app.user_id', true), '')::uuid"


def upgrade() -> None:
    create_platform_tables()
    op.create_table(
        "agencies",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("slug", sa.String(63), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False, server_default="USD"),
        sa.Column("timezone", sa.String(64), nullable=False, server_default="UTC"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_table(
        "users",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False, unique=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.CheckConstraint("email = lower(email)", name="email_lower_case"),
    )
    op.create_table(
        "memberships",
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("agencies.id"), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="active"),
        sa.Column("client_id", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.UniqueConstraint("tenant_id", "user_id"),
        sa.CheckConstraint(
            "role IN ('owner', 'admin', 'manager', 'member', 'client')", name="role_known"
        ),
        sa.CheckConstraint("status IN ('active', 'suspended')", name="status_known"),
        sa.CheckConstraint("(role = 'client') = (client_id IS NOT NULL)", name="client_bound"),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_table(
        "refresh_tokens",
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("agencies.id"), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("family_id", UUID(as_uuid=True), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_table(
        "signing_keys",
        sa.Column("kid", sa.String(64), primary_key=True),
        sa.Column("private_pem", sa.Text, nullable=False),
        sa.Column("public_jwk", JSONB, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("retired_at", sa.DateTime(timezone=True)),
    )
    # A member sees their own memberships in every agency (to log in and switch agencies).
    enable_tenant_rls("memberships", extra_using=f"user_id = {CURRENT_USER}")
    enable_tenant_rls("refresh_tokens")
    # An agency row is its own tenant's, and readable by its members.
    op.execute("ALTER TABLE agencies ENABLE ROW LEVEL SECURITY")
    op.execute("ALTER TABLE agencies FORCE ROW LEVEL SECURITY")
    own = TENANT_PREDICATE.replace("tenant_id", "id", 1)
    op.execute(f"CREATE POLICY tenant_isolation ON agencies USING ({own}) WITH CHECK ({own})")
    op.execute(
        "CREATE POLICY agencies_member_read ON agencies FOR SELECT USING "
        f"(id IN (SELECT tenant_id FROM memberships WHERE user_id = {CURRENT_USER}))"
    )


def downgrade() -> None:
    op.execute("DROP POLICY agencies_member_read ON agencies")  # it reads memberships
    for table in ("signing_keys", "refresh_tokens", "memberships", "users", "agencies"):
        op.drop_table(table)
    drop_platform_tables()
