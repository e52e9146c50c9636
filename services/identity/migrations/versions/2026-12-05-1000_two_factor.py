"""two-factor sign-in (TOTP): each account's secret and backup codes, the second-step
challenges of a sign-in, each agency's enforcement policy, and how each session signed in

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 10:00:00

Two-factor sign-in belongs to the account, across its agencies, so its tables are global like
`users` (no tenant, no row-level security). The TOTP secret is stored sealed with the
key-encryption key (agencyos.common.sealing), bound to its user; backup codes and
challenge tokens only as SHA-256 hashes. A challenge names the agency the sign-in chose.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

ROLES = "ARRAY['owner', 'admin', 'manager', 'member', 'client']::text[]"


def upgrade() -> None:
    op.create_table(
        "user_two_factor",
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), primary_key=True),
        # Sealed (v1.<base64url>); on while `enabled_at` is set.
        sa.Column("secret_sealed", sa.Text()),
        # A secret enrolled but not confirmed yet; enrolling again replaces it.
        sa.Column("pending_secret_sealed", sa.Text()),
        sa.Column("enabled_at", sa.DateTime(timezone=True)),
        # The last TOTP time step accepted: a code of that step or an earlier one is refused.
        sa.Column("last_used_step", sa.BigInteger()),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.CheckConstraint(
            "enabled_at IS NULL OR secret_sealed IS NOT NULL", name="enabled_has_secret"
        ),
    )
    op.create_table(
        "two_factor_backup_codes",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_index("ix_two_factor_backup_codes_user_id", "two_factor_backup_codes", ["user_id"])
    op.create_table(
        "mfa_challenges",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        # The SHA-256 of the User-Agent the sign-in came with: the second step must match it.
        sa.Column("user_agent_hash", sa.String(64), nullable=False),
        sa.Column("ip_address", sa.Text()),
        sa.Column("failed_attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_index("ix_mfa_challenges_user_id", "mfa_challenges", ["user_id"])
    op.add_column(
        "agencies",
        sa.Column("two_factor_required", sa.String(10), nullable=False, server_default="nobody"),
    )
    op.add_column(
        "agencies",
        sa.Column("two_factor_roles", ARRAY(sa.Text()), nullable=False, server_default="{}"),
    )
    op.create_check_constraint(
        op.f("ck_agencies_two_factor_required_known"),
        "agencies",
        "two_factor_required IN ('nobody', 'everyone', 'roles')",
    )
    op.create_check_constraint(
        op.f("ck_agencies_two_factor_roles_known"),
        "agencies",
        f"two_factor_roles <@ {ROLES}",
    )
    # How the session signed in (RFC 8176 `amr`: pwd, otp, sso); a refresh keeps it.
    op.add_column("refresh_tokens", sa.Column("amr", ARRAY(sa.Text())))


def downgrade() -> None:
    op.drop_column("refresh_tokens", "amr")
    op.drop_constraint(op.f("ck_agencies_two_factor_roles_known"), "agencies", type_="check")
    op.drop_constraint(op.f("ck_agencies_two_factor_required_known"), "agencies", type_="check")
    op.drop_column("agencies", "two_factor_roles")
    op.drop_column("agencies", "two_factor_required")
    op.drop_index("ix_mfa_challenges_user_id", table_name="mfa_challenges")
    op.drop_table("mfa_challenges")
    op.drop_index("ix_two_factor_backup_codes_user_id", table_name="two_factor_backup_codes")
    op.drop_table("two_factor_backup_codes")
    op.drop_table("user_two_factor")
