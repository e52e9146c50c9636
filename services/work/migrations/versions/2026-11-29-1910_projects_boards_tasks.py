"""projects and members, templates, boards and columns, tasks (subtasks, dependencies,
comments, activity), milestones, deliverables and their decisions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 19:10:00

Integrity the database holds itself: a project exists at most once per deal (the deal-won
saga's exactly-once guarantee), a task's column, milestone and dependencies belong to the
task's own project (composite foreign keys that include `project_id`), one default template
per agency.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from agencyos.common.migrations import (
    enable_tenant_rls,
    tenant_pk_columns,
    timestamp_columns,
    uuid_column,
)

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

TASK_STATUSES = "('todo', 'in_progress', 'review', 'done')"


def _project_fk(column: str = "project_id") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", column], ["projects.tenant_id", "projects.id"], ondelete="CASCADE"
    )


def upgrade() -> None:
    op.create_table(
        "project_templates",
        *tenant_pk_columns(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("billing_type", sa.String(20), nullable=False, server_default="hourly"),
        # [{"name", "color", "status"}], in board order
        sa.Column("columns", JSONB, nullable=False, server_default="[]"),
        # [{"title", "description", "status", "priority", "due_offset_days", "estimate_hours",
        #   "labels", "milestone"}]; "milestone" names one of `milestones` by name
        sa.Column("tasks", JSONB, nullable=False, server_default="[]"),
        # [{"name", "due_offset_days", "amount_cents"}]
        sa.Column("milestones", JSONB, nullable=False, server_default="[]"),
        uuid_column("created_by"),
        *timestamp_columns(),
        sa.CheckConstraint(
            "billing_type IN ('hourly', 'fixed', 'retainer')", name="billing_type_known"
        ),
    )
    op.create_index(
        "uq_project_templates_one_default",
        "project_templates",
        ["tenant_id"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    enable_tenant_rls("project_templates")

    op.create_table(
        "projects",
        *tenant_pk_columns(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.Text()),
        uuid_column("client_id"),
        uuid_column("deal_id"),
        uuid_column("template_id"),
        sa.Column("status", sa.String(20), nullable=False, server_default="planning"),
        sa.Column("billing_type", sa.String(20), nullable=False, server_default="hourly"),
        sa.Column("hourly_rate_cents", sa.BigInteger()),
        sa.Column("currency", sa.String(3), nullable=False, server_default="USD"),
        sa.Column("budget_cents", sa.BigInteger()),
        sa.Column("budget_hours", sa.Numeric(10, 2)),
        sa.Column("start_date", sa.Date()),
        sa.Column("deadline", sa.Date()),
        uuid_column("created_by"),
        *timestamp_columns(),
        sa.CheckConstraint(
            "status IN ('planning', 'active', 'on_hold', 'completed', 'archived')",
            name="status_known",
        ),
        sa.CheckConstraint(
            "billing_type IN ('hourly', 'fixed', 'retainer')", name="billing_type_known"
        ),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_code"),
        sa.CheckConstraint("hourly_rate_cents >= 0", name="rate_not_negative"),
        sa.CheckConstraint("budget_cents >= 0", name="budget_not_negative"),
        sa.CheckConstraint("budget_hours >= 0", name="budget_hours_not_negative"),
        sa.CheckConstraint(
            "deadline IS NULL OR start_date IS NULL OR deadline >= start_date",
            name="deadline_after_start",
        ),
        sa.CheckConstraint("length(btrim(name)) > 0", name="name_present"),
    )
    # A deal becomes at most one project, whatever the consumer does twice.
    op.create_index(
        "uq_projects_deal",
        "projects",
        ["tenant_id", "deal_id"],
        unique=True,
        postgresql_where=sa.text("deal_id IS NOT NULL"),
    )
    op.create_index("ix_projects_client", "projects", ["tenant_id", "client_id"])
    enable_tenant_rls("projects")

    op.create_table(
        "project_members",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("project_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("added_by", UUID(as_uuid=True)),
        sa.Column("added_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        _project_fk(),
    )
    op.create_index("ix_project_members_user", "project_members", ["tenant_id", "user_id"])
    enable_tenant_rls("project_members")

    op.create_table(
        "board_columns",
        *tenant_pk_columns(),
        uuid_column("project_id", nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("color", sa.String(7), nullable=False, server_default="#9CA3AF"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        *timestamp_columns(),
        _project_fk(),
        sa.UniqueConstraint("tenant_id", "project_id", "id", name="uq_board_columns_project_id"),
        sa.CheckConstraint(f"status IN {TASK_STATUSES}", name="status_known"),
        sa.CheckConstraint("color ~ '^#[0-9A-Fa-f]{6}$'", name="color_hex"),
    )
    op.create_index("ix_board_columns_project", "board_columns", ["tenant_id", "project_id"])
    enable_tenant_rls("board_columns")

    op.create_table(
        "milestones",
        *tenant_pk_columns(),
        uuid_column("project_id", nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("due_date", sa.Date()),
        sa.Column("amount_cents", sa.BigInteger()),
        sa.Column("status", sa.String(20), nullable=False, server_default="open"),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        *timestamp_columns(),
        _project_fk(),
        sa.UniqueConstraint("tenant_id", "project_id", "id", name="uq_milestones_project_id"),
        sa.CheckConstraint("status IN ('open', 'completed')", name="status_known"),
        sa.CheckConstraint("amount_cents >= 0", name="amount_not_negative"),
    )
    op.create_index("ix_milestones_project", "milestones", ["tenant_id", "project_id"])
    enable_tenant_rls("milestones")

    op.create_table(
        "tasks",
        *tenant_pk_columns(),
        uuid_column("project_id", nullable=False),
        uuid_column("column_id", nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("priority", sa.String(10), nullable=False, server_default="medium"),
        sa.Column("assignee_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
        sa.Column("due_date", sa.Date()),
        sa.Column("estimate_hours", sa.Numeric(8, 2)),
        sa.Column("labels", ARRAY(sa.Text()), nullable=False, server_default="{}"),
        uuid_column("milestone_id"),
        sa.Column("visible_to_client", sa.Boolean(), nullable=False, server_default=sa.false()),
        # Order within the column: fractional, so a move writes one row.
        sa.Column("position", sa.Float(precision=53), nullable=False),
        # Optimistic concurrency: every write bumps it; If-Match compares it.
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        sa.Column("completed_at", sa.DateTime(timezone=True)),
        uuid_column("created_by"),
        *timestamp_columns(),
        _project_fk(),
        sa.UniqueConstraint("tenant_id", "project_id", "id", name="uq_tasks_project_id"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "column_id"],
            ["board_columns.tenant_id", "board_columns.project_id", "board_columns.id"],
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "milestone_id"],
            ["milestones.tenant_id", "milestones.project_id", "milestones.id"],
        ),
        sa.CheckConstraint(f"status IN {TASK_STATUSES}", name="status_known"),
        sa.CheckConstraint(
            "priority IN ('low', 'medium', 'high', 'urgent')", name="priority_known"
        ),
        sa.CheckConstraint("estimate_hours >= 0", name="estimate_not_negative"),
        sa.CheckConstraint("length(btrim(title)) > 0", name="title_present"),
    )
    op.create_index("ix_tasks_column_position", "tasks", ["tenant_id", "column_id", "position"])
    op.create_index("ix_tasks_project", "tasks", ["tenant_id", "project_id"])
    op.create_index("ix_tasks_assignees", "tasks", ["assignee_ids"], postgresql_using="gin")
    enable_tenant_rls("tasks")

    op.create_table(
        "subtasks",
        *tenant_pk_columns(),
        uuid_column("task_id", nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("done", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("position", sa.Integer(), nullable=False),
        *timestamp_columns(),
        sa.ForeignKeyConstraint(
            ["tenant_id", "task_id"], ["tasks.tenant_id", "tasks.id"], ondelete="CASCADE"
        ),
    )
    op.create_index("ix_subtasks_task", "subtasks", ["tenant_id", "task_id"])
    enable_tenant_rls("subtasks")

    # Both ends in the same project, by construction.
    op.create_table(
        "task_dependencies",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("task_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("blocked_by_id", UUID(as_uuid=True), primary_key=True),
        uuid_column("project_id", nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "task_id"],
            ["tasks.tenant_id", "tasks.project_id", "tasks.id"],
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id", "project_id", "blocked_by_id"],
            ["tasks.tenant_id", "tasks.project_id", "tasks.id"],
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("task_id <> blocked_by_id", name="not_self"),
    )
    op.create_index(
        "ix_task_dependencies_blocker", "task_dependencies", ["tenant_id", "blocked_by_id"]
    )
    enable_tenant_rls("task_dependencies")

    op.create_table(
        "comments",
        *tenant_pk_columns(),
        uuid_column("task_id", nullable=False),
        uuid_column("author_id", nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("mentions", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
        *timestamp_columns(),
        sa.ForeignKeyConstraint(
            ["tenant_id", "task_id"], ["tasks.tenant_id", "tasks.id"], ondelete="CASCADE"
        ),
        sa.CheckConstraint("length(btrim(body)) > 0", name="body_present"),
    )
    op.create_index("ix_comments_task", "comments", ["tenant_id", "task_id", "created_at"])
    enable_tenant_rls("comments")

    op.create_table(
        "task_activity",
        *tenant_pk_columns(),
        uuid_column("project_id", nullable=False),
        uuid_column("task_id", nullable=False),
        uuid_column("actor_id"),
        sa.Column("action", sa.String(30), nullable=False),
        # [{"field", "old", "new"}]
        sa.Column("changes", JSONB, nullable=False, server_default="[]"),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        _project_fk(),
    )
    op.create_index(
        "ix_task_activity_task", "task_activity", ["tenant_id", "task_id", "occurred_at"]
    )
    op.create_index(
        "ix_task_activity_project", "task_activity", ["tenant_id", "project_id", "occurred_at"]
    )
    enable_tenant_rls("task_activity")

    op.create_table(
        "deliverables",
        *tenant_pk_columns(),
        uuid_column("project_id", nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text()),
        sa.Column("link_url", sa.String(2048)),
        sa.Column("file_ref", sa.String(1024)),
        sa.Column("status", sa.String(20), nullable=False, server_default="draft"),
        sa.Column("submitted_at", sa.DateTime(timezone=True)),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        uuid_column("created_by"),
        *timestamp_columns(),
        _project_fk(),
        sa.CheckConstraint(
            "status IN ('draft', 'submitted', 'approved', 'changes_requested')",
            name="status_known",
        ),
    )
    op.create_index("ix_deliverables_project", "deliverables", ["tenant_id", "project_id"])
    enable_tenant_rls("deliverables")

    op.create_table(
        "deliverable_decisions",
        *tenant_pk_columns(),
        uuid_column("deliverable_id", nullable=False),
        sa.Column("decision", sa.String(20), nullable=False),
        sa.Column("comment", sa.Text()),
        uuid_column("actor_id"),
        sa.Column("occurred_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.ForeignKeyConstraint(
            ["tenant_id", "deliverable_id"],
            ["deliverables.tenant_id", "deliverables.id"],
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "decision IN ('submitted', 'approved', 'changes_requested')", name="decision_known"
        ),
    )
    op.create_index(
        "ix_deliverable_decisions", "deliverable_decisions", ["tenant_id", "deliverable_id"]
    )
    enable_tenant_rls("deliverable_decisions")


def downgrade() -> None:
    for table in (
        "deliverable_decisions",
        "deliverables",
        "task_activity",
        "comments",
        "task_dependencies",
        "subtasks",
        "tasks",
        "milestones",
        "board_columns",
        "project_members",
        "projects",
        "project_templates",
    ):
        op.drop_table(table)
