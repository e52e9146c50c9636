"""the agency's event feed: a gapless per-agency sequence of recorded events, with who may
read each; RLS

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 03:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from agencyos.common.migrations import enable_tenant_rls, uuid_column

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

# Retention finds the agencies with a feed (read only), then prunes each under its own tenant;
# only a transaction that sets this flag sees other agencies' heads.
FEED_RETENTION_SETTING = "app.notification_feed_retention"


def upgrade() -> None:
    op.create_table(
        "feed_heads",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("last_seq", sa.BigInteger, nullable=False, server_default="0"),
        sa.Column("pruned_through", sa.BigInteger, nullable=False, server_default="0"),
        sa.CheckConstraint("pruned_through <= last_seq", name="pruned_within_feed"),
    )
    enable_tenant_rls("feed_heads")
    op.execute(
        "CREATE POLICY feed_heads_retention ON feed_heads FOR SELECT "
        f"USING (current_setting('{FEED_RETENTION_SETTING}', true) = 'on')"
    )

    op.create_table(
        "feed_events",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("seq", sa.BigInteger, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("type", sa.String(120), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column(
            "recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("permission", sa.String(60)),
        uuid_column("project_id"),
        uuid_column("client_id"),
        uuid_column("person_id"),
        sa.Column("personal", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("client_visible", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("envelope", JSONB, nullable=False),
        sa.UniqueConstraint("tenant_id", "event_id", name="feed_events_event_once"),
        sa.ForeignKeyConstraint(["tenant_id"], ["feed_heads.tenant_id"]),
        sa.CheckConstraint("seq > 0", name="seq_positive"),
    )
    op.create_index("feed_events_recorded", "feed_events", ["tenant_id", "recorded_at"])
    enable_tenant_rls("feed_events")


def downgrade() -> None:
    op.drop_table("feed_events")
    op.drop_table("feed_heads")
