"""members, invitations, per-agency role permissions, per-member overrides, API keys

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-29 18:30:00

Invitation and API-key secrets are stored only as SHA-256 hashes. Both carry their agency in
clear (`inv_<secret>.<agency hex>`, `ak_<secret>.<agency hex>`) so the request that presents
one can open its transaction under that tenant and find the row through the ordinary policy.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from agencyos.common.migrations import enable_tenant_rls

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

TUNABLE_ROLE = "role IN ('admin', 'manager', 'member', 'client')"


def _tenant() -> sa.Column:
    return sa.Column(
        "tenant_id", UUID(as_uuid=True), sa.ForeignKey("agencies.id"), primary_key=True
    )


def upgrade() -> None:
    text_array = ARRAY(sa.Text())
    op.add_column(
        "memberships",
        sa.Column("granted_permissions", text_array, nullable=False, server_default="{}"),
    )
    op.add_column(
        "memberships",
        sa.Column("revoked_permissions", text_array, nullable=False, server_default="{}"),
    )
    op.add_column("memberships", sa.Column("updated_at", sa.DateTime(timezone=True)))
    # Owners are counted under lock whenever one may stop being an owner.
    op.create_index("ix_memberships_tenant_role", "memberships", ["tenant_id", "role"])

    op.create_table(
        "role_permissions",
        _tenant(),
        sa.Column("role", sa.String(20), primary_key=True),
        sa.Column("permissions", text_array, nullable=False),
        sa.Column("updated_by", UUID(as_uuid=True), sa.ForeignKey("users.id")),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        # The owner's set is every permission, always: an agency can never lock itself out.
        sa.CheckConstraint(TUNABLE_ROLE, name="tunable_role"),
    )
    enable_tenant_rls("role_permissions")

    op.create_table(
        "invitations",
        _tenant(),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("client_id", UUID(as_uuid=True)),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("invited_by", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("accepted_at", sa.DateTime(timezone=True)),
        sa.Column("accepted_by", UUID(as_uuid=True), sa.ForeignKey("users.id")),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.CheckConstraint("email = lower(email)", name="email_lower_case"),
        sa.CheckConstraint(
            "role IN ('owner', 'admin', 'manager', 'member', 'client')", name="role_known"
        ),
        sa.CheckConstraint("(role = 'client') = (client_id IS NOT NULL)", name="client_bound"),
        sa.CheckConstraint("accepted_at IS NULL OR revoked_at IS NULL", name="one_ending"),
    )
    op.create_index("ix_invitations_tenant_email", "invitations", ["tenant_id", "email"])
    enable_tenant_rls("invitations")

    op.create_table(
        "api_keys",
        _tenant(),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("created_by", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("expires_at", sa.DateTime(timezone=True)),
        sa.Column("last_used_at", sa.DateTime(timezone=True)),
        sa.Column("revoked_at", sa.DateTime(timezone=True)),
        # A key acts for the agency, not for a person: never as its owner, never as a client.
        sa.CheckConstraint("role IN ('admin', 'manager', 'member')", name="role_known"),
    )
    enable_tenant_rls("api_keys")


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_index("ix_invitations_tenant_email", table_name="invitations")
    op.drop_table("invitations")
    op.drop_table("role_permissions")
    op.drop_index("ix_memberships_tenant_role", table_name="memberships")
    op.drop_column("memberships", "updated_at")
    op.drop_column("memberships", "revoked_permissions")
    op.drop_column("memberships", "granted_permissions")
