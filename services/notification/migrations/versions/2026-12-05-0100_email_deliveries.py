"""email deliveries (the durable email queue) and agency brands (a read model of identity)

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 01:00:00

One email per (agency, source event, recipient address, template): a unique index the queue
inserts against with ON CONFLICT DO NOTHING, so a redelivered event queues nothing twice.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from agencyos.common.migrations import enable_tenant_rls, tenant_pk_columns

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# the delivery worker finds due rows of every agency (read only), then claims and updates
# each under its own tenant; only a transaction that sets this flag sees other agencies' rows
EMAIL_WORKER_SETTING = "app.email_worker"
STATUSES = "('queued', 'sending', 'sent', 'failed')"


def upgrade() -> None:
    op.create_table(
        "agency_brands",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("logo_url", sa.Text()),
        sa.Column("brand_color", sa.String(20)),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    enable_tenant_rls("agency_brands")
    op.execute(
        "CREATE POLICY agency_brands_email_worker ON agency_brands FOR SELECT "
        f"USING (current_setting('{EMAIL_WORKER_SETTING}', true) = 'on')"
    )

    op.create_table(
        "email_deliveries",
        *tenant_pk_columns(),
        sa.Column("source_event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("template", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(100)),
        sa.Column("to_email", sa.String(320), nullable=False),
        sa.Column("to_name", sa.String(200)),
        sa.Column("user_id", UUID(as_uuid=True)),
        sa.Column("subject", sa.String(500), nullable=False),
        sa.Column("html", sa.Text(), nullable=False, server_default=""),
        sa.Column("text", sa.Text(), nullable=False, server_default=""),
        sa.Column("attachments", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("unsubscribe_url", sa.Text()),
        sa.Column("status", sa.String(20), nullable=False, server_default="queued"),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("smtp_answer", sa.Text()),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("contains_secret", sa.Boolean(), nullable=False, server_default="false"),
        sa.CheckConstraint(f"status IN {STATUSES}", name="known_status"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_email_deliveries_once ON email_deliveries "
        "(tenant_id, source_event_id, lower(to_email), template)"
    )
    # what the worker polls: rows waiting (or leased) by when they are due
    op.create_index(
        "ix_email_deliveries_due",
        "email_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status IN ('queued', 'sending')"),
    )
    op.create_index("ix_email_deliveries_listing", "email_deliveries", ["tenant_id", "created_at"])
    enable_tenant_rls("email_deliveries")
    op.execute(
        "CREATE POLICY email_deliveries_email_worker ON email_deliveries FOR SELECT "
        f"USING (current_setting('{EMAIL_WORKER_SETTING}', true) = 'on')"
    )


def downgrade() -> None:
    op.drop_table("email_deliveries")
    op.drop_table("agency_brands")
