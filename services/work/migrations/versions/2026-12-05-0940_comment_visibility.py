"""comment visibility: `internal` (the agency's team only) or `client` (also the client's users)

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 09:40:00

Every existing comment was written for the team: it becomes `internal`.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "comments",
        sa.Column("visibility", sa.Text(), nullable=False, server_default="internal"),
    )
    op.create_check_constraint(
        op.f("ck_comments_visibility_known"), "comments", "visibility IN ('internal', 'client')"
    )
    # The portal lists a task's client-visible comments.
    op.create_index(
        "ix_comments_client_visible",
        "comments",
        ["tenant_id", "task_id", "created_at"],
        postgresql_where=sa.text("visibility = 'client'"),
    )


def downgrade() -> None:
    op.drop_index("ix_comments_client_visible", table_name="comments")
    op.drop_constraint(op.f("ck_comments_visibility_known"), "comments", type_="check")
    op.drop_column("comments", "visibility")
