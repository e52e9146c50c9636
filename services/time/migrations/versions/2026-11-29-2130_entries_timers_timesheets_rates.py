"""time entries (with an exclusion constraint against overlaps), running timers, weekly
timesheets, the entry audit trail, billable and cost rates with effective dates, capacity

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 21:30:00

Integrity the database holds itself: one running timer per person (primary key), no two
timed entries of one person overlap (`EXCLUDE USING gist` over `tstzrange(started_at,
ended_at)`, btree_gist for the equality parts), an entry lasts 1 second to 12 hours and a
timed entry's duration is its interval, one timesheet per person and week, one rate per
scope and effective date.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB, UUID

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

ENTRY_STATUSES = "('draft', 'submitted', 'approved', 'rejected', 'invoiced')"
MAX_ENTRY_SECONDS = 12 * 3600


def upgrade() -> None:
    # btree_gist is a trusted extension: the database owner may create it.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")

    op.create_table(
        "time_entries",
        *tenant_pk_columns(),
        uuid_column("user_id", nullable=False),
        uuid_column("project_id", nullable=False),
        uuid_column("task_id"),
        # the project's client when the entry was made (work's project), for client filters
        # and per-client invoicing
        uuid_column("client_id"),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("ended_at", sa.DateTime(timezone=True)),
        sa.Column("duration_seconds", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("is_billable", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="draft"),
        # set while an invoice holds the entry (reserved) and after it is invoiced
        uuid_column("invoice_id"),
        sa.Column("reserved_at", sa.DateTime(timezone=True)),
        # frozen when the entry is approved, so a later rate change never rewrites its value
        sa.Column("billable_rate_cents", sa.BigInteger()),
        sa.Column("cost_rate_cents", sa.BigInteger()),
        sa.Column("currency", sa.String(3)),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        uuid_column("created_by"),
        *timestamp_columns(),
        sa.CheckConstraint(f"status IN {ENTRY_STATUSES}", name="status_known"),
        sa.CheckConstraint(
            f"duration_seconds > 0 AND duration_seconds <= {MAX_ENTRY_SECONDS}",
            name="duration_at_most_12_hours",
        ),
        sa.CheckConstraint(
            "(started_at IS NULL) = (ended_at IS NULL)", name="interval_both_or_neither"
        ),
        sa.CheckConstraint(
            "started_at IS NULL OR (ended_at > started_at AND duration_seconds = "
            "CAST(round(extract(epoch FROM ended_at - started_at)) AS integer))",
            name="duration_matches_interval",
        ),
        sa.CheckConstraint(
            "status <> 'invoiced' OR invoice_id IS NOT NULL", name="invoiced_names_invoice"
        ),
    )
    op.execute(
        "ALTER TABLE time_entries ADD CONSTRAINT time_entries_no_overlap "
        "EXCLUDE USING gist (tenant_id WITH =, user_id WITH =, "
        "tstzrange(started_at, ended_at, '[)') WITH &&) "
        "WHERE (started_at IS NOT NULL)"
    )
    op.create_index("ix_time_entries_user_date", "time_entries", ["tenant_id", "user_id", "date"])
    op.create_index(
        "ix_time_entries_project_date", "time_entries", ["tenant_id", "project_id", "date"]
    )
    op.create_index(
        "ix_time_entries_client_date", "time_entries", ["tenant_id", "client_id", "date"]
    )
    op.create_index(
        "ix_time_entries_invoice",
        "time_entries",
        ["tenant_id", "invoice_id"],
        postgresql_where=sa.text("invoice_id IS NOT NULL"),
    )
    enable_tenant_rls("time_entries")

    op.create_table(
        "timers",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        # one running timer per person
        sa.Column("user_id", UUID(as_uuid=True), primary_key=True),
        uuid_column("id", nullable=False),
        uuid_column("project_id", nullable=False),
        uuid_column("task_id"),
        uuid_column("client_id"),
        sa.Column("description", sa.Text(), nullable=False, server_default=""),
        sa.Column("is_billable", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        *timestamp_columns(),
    )
    enable_tenant_rls("timers")

    op.create_table(
        "timesheets",
        *tenant_pk_columns(),
        uuid_column("user_id", nullable=False),
        sa.Column("week_start", sa.Date(), nullable=False),  # the ISO week's Monday
        sa.Column("status", sa.String(20), nullable=False, server_default="open"),
        sa.Column("submitted_at", sa.DateTime(timezone=True)),
        uuid_column("submitted_by"),
        sa.Column("decided_at", sa.DateTime(timezone=True)),
        uuid_column("decided_by"),
        sa.Column("rejection_reason", sa.Text()),
        *timestamp_columns(),
        sa.CheckConstraint(
            "status IN ('open', 'submitted', 'approved', 'rejected')", name="status_known"
        ),
        sa.CheckConstraint("extract(isodow FROM week_start) = 1", name="week_starts_monday"),
        sa.UniqueConstraint("tenant_id", "user_id", "week_start", name="uq_timesheets_week"),
    )
    enable_tenant_rls("timesheets")

    # every change to an entry: who, when, what (old/new per field)
    op.create_table(
        "time_entry_changes",
        *tenant_pk_columns(),
        uuid_column("entry_id", nullable=False),  # no foreign key: the trail outlives a deletion
        uuid_column("actor_id"),
        sa.Column("action", sa.String(20), nullable=False),
        # {"field": {"old": ..., "new": ...}}
        sa.Column("changes", JSONB, nullable=False, server_default="{}"),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index(
        "ix_time_entry_changes_entry", "time_entry_changes", ["tenant_id", "entry_id", "at"]
    )
    enable_tenant_rls("time_entry_changes")

    op.create_table(
        "rates",
        *tenant_pk_columns(),
        sa.Column("kind", sa.String(10), nullable=False),  # billable | cost
        # agency | member | project | project_member
        sa.Column("scope", sa.String(20), nullable=False),
        uuid_column("user_id"),
        uuid_column("project_id"),
        sa.Column("hourly_rate_cents", sa.BigInteger(), nullable=False),
        sa.Column("effective_from", sa.Date(), nullable=False),
        uuid_column("created_by"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.CheckConstraint("kind IN ('billable', 'cost')", name="kind_known"),
        sa.CheckConstraint(
            "scope IN ('agency', 'member', 'project', 'project_member')", name="scope_known"
        ),
        sa.CheckConstraint(
            "(scope = 'agency' AND user_id IS NULL AND project_id IS NULL) OR "
            "(scope = 'member' AND user_id IS NOT NULL AND project_id IS NULL) OR "
            "(scope = 'project' AND user_id IS NULL AND project_id IS NOT NULL) OR "
            "(scope = 'project_member' AND user_id IS NOT NULL AND project_id IS NOT NULL)",
            name="scope_targets",
        ),
        sa.CheckConstraint(
            "kind = 'billable' OR scope IN ('agency', 'member')", name="cost_rates_per_member"
        ),
        sa.CheckConstraint("hourly_rate_cents >= 0", name="rate_not_negative"),
    )
    op.execute(
        "CREATE UNIQUE INDEX uq_rates_scope_effective ON rates "
        "(tenant_id, kind, scope, user_id, project_id, effective_from) NULLS NOT DISTINCT"
    )
    enable_tenant_rls("rates")

    # the agency's people as identity announces them (identity.* events), with their weekly
    # capacity: utilization counts everyone, including people who logged nothing
    op.create_table(
        "team_members",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False, server_default=""),
        sa.Column("role", sa.String(20), nullable=False, server_default="member"),
        sa.Column("status", sa.String(20), nullable=False, server_default="active"),
        sa.Column("weekly_capacity_hours", sa.Numeric(5, 2), nullable=False, server_default="40"),
        *timestamp_columns(),
        sa.CheckConstraint(
            "weekly_capacity_hours >= 0 AND weekly_capacity_hours <= 168",
            name="capacity_within_week",
        ),
    )
    enable_tenant_rls("team_members")


def downgrade() -> None:
    op.drop_table("team_members")
    op.drop_table("rates")
    op.drop_table("time_entry_changes")
    op.drop_table("timesheets")
    op.drop_table("timers")
    op.drop_table("time_entries")
