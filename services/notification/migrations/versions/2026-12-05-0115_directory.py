"""directory: people, projects and tasks as other services' events tell them; notices waiting
for a person not yet known; digest runs claimed once per person and period; RLS

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05 01:15:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from agencyos.common.migrations import enable_tenant_rls, uuid_column

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The digest worker finds the agencies with people (read only), then makes each agency's
# digests under its own tenant; only a transaction that sets this flag sees other agencies.
DIGESTS_SETTING = "app.notification_digests"


def _at(name: str, *, nullable: bool = True) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "people",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("email", sa.String(320)),
        sa.Column("name", sa.String(200)),
        _at("profile_at"),
        sa.Column("role", sa.String(20)),
        uuid_column("client_id"),
        sa.Column("permissions", ARRAY(sa.Text()), nullable=False, server_default="{}"),
        _at("access_at"),
        sa.Column("status", sa.String(20), nullable=False, server_default="active"),
        _at("status_at"),
        sa.CheckConstraint("status IN ('active', 'suspended', 'removed')", name="status_known"),
    )
    enable_tenant_rls("people")
    op.execute(
        "CREATE POLICY people_digests ON people FOR SELECT "
        f"USING (current_setting('{DIGESTS_SETTING}', true) = 'on')"
    )

    op.create_table(
        "projects",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        uuid_column("client_id"),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("member_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
        uuid_column("created_by"),
        _at("as_of", nullable=False),
    )
    enable_tenant_rls("projects")

    op.create_table(
        "tasks",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        uuid_column("project_id", nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("assignee_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
        sa.Column("due_date", sa.Date()),
        sa.Column("visible_to_client", sa.Boolean(), nullable=False, server_default="false"),
        sa.Column("task_version", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_tasks_open_due",
        "tasks",
        ["tenant_id", "due_date"],
        postgresql_where=sa.text("status <> 'done' AND due_date IS NOT NULL"),
    )
    op.create_index("ix_tasks_assignees", "tasks", ["assignee_ids"], postgresql_using="gin")
    enable_tenant_rls("tasks")

    op.create_table(
        "waiting_notices",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        uuid_column("user_id", nullable=False),
        sa.Column("event", JSONB, nullable=False),
        _at("created_at", nullable=False),
    )
    op.create_index("ix_waiting_notices_user", "waiting_notices", ["tenant_id", "user_id"])
    enable_tenant_rls("waiting_notices")

    op.create_table(
        "digest_runs",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("kind", sa.String(100), primary_key=True),
        sa.Column("period", sa.Date(), primary_key=True),
        sa.Column("items", sa.Integer(), nullable=False, server_default="0"),
        _at("created_at", nullable=False),
    )
    enable_tenant_rls("digest_runs")


def downgrade() -> None:
    for table in ("digest_runs", "waiting_notices", "tasks", "projects", "people"):
        op.drop_table(table)
