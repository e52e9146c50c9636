"""the agency's audit log: append-only, hash-chained records and each agency's chain head

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 11:00:00

`audit_records` is append-only for the application role: it may SELECT and INSERT, never
UPDATE, DELETE or TRUNCATE. The grants are made after every migration run by
`agencyos.common.migrations.grant_app_role`, which reads the models' `append_only` mark; the
REVOKE here says the same for a database migrated to this revision. Each agency's records form
a hash chain (agencyos.identity.audit.chain); `audit_heads` holds where each chain ends, locked
by every append. Both tables are tenant tables under the standard row-level security policy.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

from agencyos.common.migrations import enable_tenant_rls

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "audit_records",
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("agencies.id"), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_type", sa.String(20), nullable=False),
        sa.Column("actor_id", sa.Text),
        sa.Column("actor_label", sa.Text),
        sa.Column("action", sa.String(200), nullable=False),
        sa.Column("entity_type", sa.String(100), nullable=False),
        sa.Column("entity_id", sa.Text),
        sa.Column("changes", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("detail", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("ip", sa.Text),
        sa.Column("user_agent", sa.Text),
        sa.Column("request_id", sa.Text),
        sa.Column("source_service", sa.String(50), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.UniqueConstraint("tenant_id", "seq"),
        sa.UniqueConstraint("event_id"),
        sa.CheckConstraint("seq >= 1", name="seq_positive"),
        sa.CheckConstraint(
            "actor_type IN ('user', 'api_key', 'system', 'anonymous')", name="actor_type_known"
        ),
    )
    # The filters of GET /v1/audit-log, each newest first.
    op.create_index("ix_audit_records_action", "audit_records", ["tenant_id", "action", "seq"])
    op.create_index("ix_audit_records_actor", "audit_records", ["tenant_id", "actor_id", "seq"])
    op.create_index(
        "ix_audit_records_entity",
        "audit_records",
        ["tenant_id", "entity_type", "entity_id", "seq"],
    )
    op.create_index("ix_audit_records_occurred_at", "audit_records", ["tenant_id", "occurred_at"])
    enable_tenant_rls("audit_records")
    op.execute("REVOKE UPDATE, DELETE, TRUNCATE ON audit_records FROM PUBLIC")

    op.create_table(
        "audit_heads",
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("agencies.id"), primary_key=True),
        sa.Column("seq", sa.BigInteger, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
    )
    enable_tenant_rls("audit_heads")


def downgrade() -> None:
    op.drop_table("audit_heads")
    op.drop_table("audit_records")
