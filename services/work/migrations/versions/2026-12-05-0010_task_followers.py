"""task followers: the members who hear about a task's comments

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 00:10:00

A follower row goes with its task (ON DELETE CASCADE); one row per member and task.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

from agencyos.common.migrations import enable_tenant_rls

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "task_followers",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("task_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), primary_key=True),
        sa.Column(
            "followed_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "task_id"], ["tasks.tenant_id", "tasks.id"], ondelete="CASCADE"
        ),
    )
    op.create_index("ix_task_followers_user", "task_followers", ["tenant_id", "user_id"])
    enable_tenant_rls("task_followers")


def downgrade() -> None:
    op.drop_table("task_followers")
