"""outbound webhooks (endpoints, deliveries, attempts) and automation rules (rules, runs); RLS

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 06:00:00

A delivery is one event for one endpoint, its body frozen when it was created (the CloudEvent
as it was when the event happened); `origin` tells the live delivery from a replay or a test,
so a replay re-sends with the original event id without colliding with the live row. Every
attempt is a row of its own. An automation run is one rule for one event, at most once.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from agencyos.common.migrations import enable_tenant_rls, tenant_pk_columns, uuid_column

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# The webhook dispatcher finds due deliveries of every agency (read only), then claims and
# records each under its own tenant; only a transaction that sets this flag sees other
# agencies' rows.
WEBHOOK_WORKER_SETTING = "app.webhook_worker"
# Likewise, the automation worker finds runs with an action due in every agency (read only),
# then runs each under its own tenant.
AUTOMATION_WORKER_SETTING = "app.automation_worker"
DELIVERY_STATUSES = "('pending', 'sending', 'succeeded', 'failed')"
DISABLED_REASONS = "('manual', 'gone', 'failing')"
RUN_STATUSES = "('running', 'succeeded', 'failed', 'skipped', 'stopped')"


def _worker_policy(table: str) -> None:
    op.execute(
        f"CREATE POLICY {table}_webhook_worker ON {table} FOR SELECT "
        f"USING (current_setting('{WEBHOOK_WORKER_SETTING}', true) = 'on')"
    )


def upgrade() -> None:
    op.create_table(
        "webhook_endpoints",
        *tenant_pk_columns(),
        sa.Column("url", sa.String(2048), nullable=False),
        sa.Column("description", sa.String(500)),
        sa.Column("event_types", ARRAY(sa.String(120)), nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        sa.Column("disabled_reason", sa.String(20)),
        sa.Column("disabled_at", sa.DateTime(timezone=True)),
        # signing secrets, encrypted with the key-encryption key from settings
        sa.Column("secret_ciphertext", sa.Text, nullable=False),
        sa.Column("previous_secret_ciphertext", sa.Text),
        sa.Column("previous_secret_expires_at", sa.DateTime(timezone=True)),
        # set by the first failed attempt after a success, cleared by any success
        sa.Column("failing_since", sa.DateTime(timezone=True)),
        sa.Column("last_success_at", sa.DateTime(timezone=True)),
        uuid_column("created_by"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.CheckConstraint(f"disabled_reason IN {DISABLED_REASONS}", name="known_disabled_reason"),
        sa.CheckConstraint("enabled = (disabled_reason IS NULL)", name="disabled_has_reason"),
    )
    op.create_index("ix_webhook_endpoints_enabled", "webhook_endpoints", ["tenant_id", "enabled"])
    enable_tenant_rls("webhook_endpoints")
    _worker_policy("webhook_endpoints")

    op.create_table(
        "webhook_deliveries",
        *tenant_pk_columns(),
        sa.Column("endpoint_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(120), nullable=False),
        # 'live', 'test', or 'replay:<replay id>' / 'retry:<...>' for re-sends asked for
        sa.Column("origin", sa.String(60), nullable=False, server_default="live"),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        # the exact bytes sent (and signed), frozen when the delivery was created
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="pending"),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("max_attempts", sa.Integer, nullable=False),
        sa.Column(
            "next_attempt_at",
            sa.DateTime(timezone=True),
            nullable=False,
            server_default=sa.func.now(),
        ),
        sa.Column("last_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("last_status_code", sa.Integer),
        sa.Column("succeeded_at", sa.DateTime(timezone=True)),
        sa.Column("failed_at", sa.DateTime(timezone=True)),
        # when the failed delivery was written to the dead-letter topic
        sa.Column("dead_lettered_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.CheckConstraint(f"status IN {DELIVERY_STATUSES}", name="known_status"),
        sa.CheckConstraint("attempts >= 0", name="attempts_not_negative"),
        sa.CheckConstraint("max_attempts >= 1", name="max_attempts_positive"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "endpoint_id"],
            ["webhook_endpoints.tenant_id", "webhook_endpoints.id"],
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint(
            "tenant_id", "endpoint_id", "event_id", "origin", name="webhook_delivery_once"
        ),
    )
    op.create_index(
        "ix_webhook_deliveries_due",
        "webhook_deliveries",
        ["next_attempt_at"],
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )
    # each endpoint's unfinished deliveries, oldest event first: the dispatcher's next ones
    op.create_index(
        "ix_webhook_deliveries_endpoint_queue",
        "webhook_deliveries",
        ["tenant_id", "endpoint_id", "occurred_at"],
        postgresql_where=sa.text("status IN ('pending', 'sending')"),
    )
    op.create_index(
        "ix_webhook_deliveries_listing",
        "webhook_deliveries",
        ["tenant_id", "endpoint_id", "created_at"],
    )
    op.create_index(
        "ix_webhook_deliveries_dead_letter",
        "webhook_deliveries",
        ["failed_at"],
        postgresql_where=sa.text("status = 'failed' AND dead_lettered_at IS NULL"),
    )
    enable_tenant_rls("webhook_deliveries")
    _worker_policy("webhook_deliveries")

    op.create_table(
        "webhook_attempts",
        *tenant_pk_columns(),
        sa.Column("delivery_id", UUID(as_uuid=True), nullable=False),
        sa.Column("endpoint_id", UUID(as_uuid=True), nullable=False),
        sa.Column("attempt", sa.Integer, nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("url", sa.String(2048), nullable=False),
        # the headers sent (the signature included: it proves nothing without the secret)
        sa.Column("request_headers", JSONB, nullable=False),
        sa.Column("response_status", sa.Integer),
        # at most the first 4 KB of the answer
        sa.Column("response_body", sa.Text),
        sa.Column("latency_ms", sa.Integer),
        # 'succeeded', 'failed' (an answer that was not 2xx, or no answer), 'refused' (SSRF)
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("error", sa.String(500)),
        sa.ForeignKeyConstraint(
            ["tenant_id", "delivery_id"],
            ["webhook_deliveries.tenant_id", "webhook_deliveries.id"],
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("tenant_id", "delivery_id", "attempt", name="webhook_attempt_once"),
    )
    enable_tenant_rls("webhook_attempts")

    op.create_table(
        "automation_rules",
        *tenant_pk_columns(),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("description", sa.String(1000)),
        sa.Column("trigger", sa.String(120), nullable=False),
        # [{"field", "op", "value"}], all of which must hold
        sa.Column("conditions", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        # [{"kind", ...}], run in order
        sa.Column("actions", JSONB, nullable=False),
        sa.Column("enabled", sa.Boolean, nullable=False, server_default=sa.true()),
        # the ready-made recipe this rule was switched on from, if any (once per agency)
        sa.Column("recipe", sa.String(60)),
        uuid_column("created_by"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.UniqueConstraint("tenant_id", "recipe", name="automation_recipe_once"),
    )
    op.create_index(
        "ix_automation_rules_trigger", "automation_rules", ["tenant_id", "trigger", "enabled"]
    )
    enable_tenant_rls("automation_rules")

    op.create_table(
        "automation_runs",
        *tenant_pk_columns(),
        sa.Column("rule_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_type", sa.String(120), nullable=False),
        # how many automation actions led to this event (0: a person or a system did it)
        sa.Column("depth", sa.Integer, nullable=False, server_default="0"),
        sa.Column("status", sa.String(20), nullable=False, server_default="running"),
        # [{"index", "kind", "status", "attempts", "detail", "error"}] in action order
        sa.Column("actions", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
        sa.Column("note", sa.String(500)),
        # the triggering CloudEvent as it was received (what the actions' templates are given)
        sa.Column("event", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        # when the run's next action is due (its first try or a retry); null when none is
        sa.Column("next_attempt_at", sa.DateTime(timezone=True)),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        sa.CheckConstraint(f"status IN {RUN_STATUSES}", name="known_run_status"),
        sa.ForeignKeyConstraint(
            ["tenant_id", "rule_id"],
            ["automation_rules.tenant_id", "automation_rules.id"],
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("tenant_id", "rule_id", "event_id", name="automation_run_once"),
    )
    op.create_index(
        "ix_automation_runs_listing", "automation_runs", ["tenant_id", "rule_id", "started_at"]
    )
    op.create_index(
        "ix_automation_runs_due",
        "automation_runs",
        ["next_attempt_at"],
        postgresql_where=sa.text("status = 'running'"),
    )
    enable_tenant_rls("automation_runs")
    op.execute(
        "CREATE POLICY automation_runs_automation_worker ON automation_runs FOR SELECT "
        f"USING (current_setting('{AUTOMATION_WORKER_SETTING}', true) = 'on')"
    )


def downgrade() -> None:
    op.drop_table("automation_runs")
    op.drop_table("automation_rules")
    op.drop_table("webhook_attempts")
    op.drop_table("webhook_deliveries")
    op.drop_table("webhook_endpoints")
