"""the client's recent activity (a read model of events) and the projects and tasks it needs
to know whose and whether client-visible; RLS

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05 11:30:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from agencyos.common.migrations import enable_tenant_rls, uuid_column

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _pk() -> list[sa.Column]:
    return [
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
    ]


def upgrade() -> None:
    op.create_table(
        "activity",
        *_pk(),
        uuid_column("client_id", nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        uuid_column("project_id"),
        sa.Column("project_name", sa.String(200)),
        uuid_column("task_id"),
        uuid_column("deliverable_id"),
        uuid_column("invoice_id"),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("status", sa.String(40)),
        sa.Column("comment", sa.String(500)),
        sa.Column("amount_cents", sa.BigInteger()),
        sa.Column("currency", sa.String(3)),
    )
    op.create_index(
        "ix_activity_client_recent", "activity", ["tenant_id", "client_id", "occurred_at"]
    )
    # A task hidden or deleted, a project given to another client: their entries go.
    op.create_index(
        "ix_activity_task",
        "activity",
        ["tenant_id", "task_id"],
        postgresql_where=sa.text("task_id IS NOT NULL"),
    )
    op.create_index("ix_activity_project", "activity", ["tenant_id", "project_id"])
    enable_tenant_rls("activity")

    op.create_table(
        "known_projects",
        *_pk(),
        uuid_column("client_id"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("as_of", sa.DateTime(timezone=True), nullable=False),
    )
    enable_tenant_rls("known_projects")

    op.create_table(
        "known_tasks",
        *_pk(),
        uuid_column("project_id", nullable=False),
        sa.Column("status", sa.String(40), nullable=False),
        sa.Column("visible_to_client", sa.Boolean(), nullable=False),
    )
    enable_tenant_rls("known_tasks")


def downgrade() -> None:
    op.drop_table("known_tasks")
    op.drop_table("known_projects")
    op.drop_table("activity")
