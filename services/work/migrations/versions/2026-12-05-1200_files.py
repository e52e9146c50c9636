"""files: a project's files, optionally a task's or a deliverable's, in object storage

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 12:00:00

The bytes live in S3 under `object_key`; a row is `pending` until its upload is confirmed. A
deleted task or deliverable leaves its files to the project.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from agencyos.common.migrations import enable_tenant_rls, tenant_pk_columns, timestamp_columns

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "files",
        *tenant_pk_columns(),
        sa.Column("project_id", UUID(as_uuid=True), nullable=False),
        sa.Column("task_id", UUID(as_uuid=True), nullable=True),
        sa.Column("deliverable_id", UUID(as_uuid=True), nullable=True),
        sa.Column("shared_with_client", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("object_key", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("uploaded_by", UUID(as_uuid=True), nullable=False),
        sa.Column("uploaded_by_client", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("uploaded_at", sa.DateTime(timezone=True), nullable=True),
        *timestamp_columns(),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id"],
            ["projects.tenant_id", "projects.id"],
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("status IN ('pending', 'uploaded')", name="status_known"),
        sa.CheckConstraint("size_bytes >= 0", name="size_not_negative"),
        sa.UniqueConstraint("object_key", name="uq_files_object_key"),
    )
    # A task or deliverable deleted leaves its files to the project (only the one column is
    # cleared: PostgreSQL 15's SET NULL (column)), so no object is left without its row.
    for column, table in (("task_id", "tasks"), ("deliverable_id", "deliverables")):
        op.execute(
            f"ALTER TABLE files ADD CONSTRAINT fk_files_{column}_{table} "
            f"FOREIGN KEY (tenant_id, {column}) REFERENCES {table} (tenant_id, id) "
            f"ON DELETE SET NULL ({column})"
        )
    op.create_index("ix_files_project", "files", ["tenant_id", "project_id", "created_at"])
    op.create_index(
        "ix_files_task",
        "files",
        ["tenant_id", "task_id"],
        postgresql_where=sa.text("task_id IS NOT NULL"),
    )
    op.create_index(
        "ix_files_deliverable",
        "files",
        ["tenant_id", "deliverable_id"],
        postgresql_where=sa.text("deliverable_id IS NOT NULL"),
    )
    enable_tenant_rls("files")


def downgrade() -> None:
    op.drop_table("files")
