"""notification preferences and role defaults; notifications written once, with link and actor

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 01:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from agencyos.common.migrations import enable_tenant_rls

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

CHANNEL_KNOWN = "channel IN ('in_app', 'email')"
ROLE_KNOWN = "role IN ('owner', 'admin', 'manager', 'member', 'client')"


def upgrade() -> None:
    op.create_table(
        "notification_preferences",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.String(100), primary_key=True),
        sa.Column("channel", sa.String(20), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.CheckConstraint(CHANNEL_KNOWN, name="channel_known"),
    )
    enable_tenant_rls("notification_preferences")

    op.create_table(
        "notification_role_defaults",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("role", sa.String(20), primary_key=True),
        sa.Column("kind", sa.String(100), primary_key=True),
        sa.Column("channel", sa.String(20), primary_key=True),
        sa.Column("enabled", sa.Boolean, nullable=False),
        sa.Column("updated_by", UUID(as_uuid=True)),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.CheckConstraint(CHANNEL_KNOWN, name="channel_known"),
        sa.CheckConstraint(ROLE_KNOWN, name="role_known"),
    )
    enable_tenant_rls("notification_role_defaults")

    op.add_column("notifications", sa.Column("link", sa.String(500)))
    op.add_column("notifications", sa.Column("actor_id", UUID(as_uuid=True)))
    op.create_unique_constraint(
        "uq_notifications_tenant_id_source_event_id_user_id_kind",
        "notifications",
        ["tenant_id", "source_event_id", "user_id", "kind"],
    )
    op.create_index(
        "ix_notifications_unread",
        "notifications",
        ["tenant_id", "user_id"],
        postgresql_where=sa.text("read_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_notifications_unread", table_name="notifications")
    op.drop_constraint(
        "uq_notifications_tenant_id_source_event_id_user_id_kind", "notifications", type_="unique"
    )
    op.drop_column("notifications", "actor_id")
    op.drop_column("notifications", "link")
    op.drop_table("notification_role_defaults")
    op.drop_table("notification_preferences")
