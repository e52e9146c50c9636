"""clients; platform tables; RLS

Revision ID: 0001
Revises:
Create Date: 2026-11-21 13:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from agencyos.common.migrations import (
    create_platform_tables,
    drop_platform_tables,
    enable_tenant_rls,
)

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_platform_tables()
    op.create_table(
        "clients",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("company_name", sa.String(200), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="lead"),
        sa.Column("industry", sa.String(100)),
        sa.Column("website", sa.String(500)),
        sa.Column("notes", sa.Text),
        sa.Column("currency", sa.String(3)),
        sa.Column("owner_id", UUID(as_uuid=True)),
        sa.Column("created_by", UUID(as_uuid=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.CheckConstraint(
            "status IN ('lead', 'active', 'inactive', 'archived')", name="status_known"
        ),
        sa.CheckConstraint("length(btrim(company_name)) > 0", name="company_name_present"),
    )
    op.create_index("ix_clients_tenant_created", "clients", ["tenant_id", "created_at"])
    enable_tenant_rls("clients")


def downgrade() -> None:
    op.drop_table("clients")
    drop_platform_tables()
