"""time keeps a read model of work's projects (from work.project.* events)

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from agencyos.common.migrations import enable_tenant_rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Filled by work's events; a project no event has brought yet is asked of work once and
    # kept with the oldest `as_of`, so the next event always replaces it.
    op.create_table(
        "work_projects",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("client_id", UUID(as_uuid=True), nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("billing_type", sa.String(20), nullable=False),
        sa.Column("hourly_rate_cents", sa.BigInteger, nullable=True),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("member_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )
    enable_tenant_rls("work_projects")


def downgrade() -> None:
    op.drop_table("work_projects")
