"""client fields and search; contacts, timeline, pipelines and stages, deals, import jobs

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 19:00:00

Search: `client_search` holds each client's lower-cased company name plus every contact's
name and email, kept by triggers (a contact change rewrites its client's row). A GIN index over
`(tenant_id, search_text gin_trgm_ops)` (btree_gin for the uuid) answers a case-insensitive
substring search within one agency from the index, also with 100k clients per agency, through
`crm_search_clients(pattern)` (see there why it is a SECURITY DEFINER function). Both
extensions are trusted, so the database owner can create them.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB, UUID

from agencyos.common.db import TENANT_SETTING
from agencyos.common.migrations import (
    TENANT_PREDICATE,
    enable_tenant_rls,
    tenant_pk_columns,
    timestamp_columns,
)

JOB_RUNNER_SETTING = "app.job_runner"

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _client_fk(on_delete: str | None = None) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id", "client_id"], ["clients.tenant_id", "clients.id"], ondelete=on_delete
    )


SEARCH_STATEMENTS = [
    # The lower-cased company name and every contact's name and email of one client.
    """
CREATE FUNCTION crm_refresh_client_search(p_tenant uuid, p_client uuid)
RETURNS void LANGUAGE sql AS $$
  INSERT INTO client_search (tenant_id, client_id, search_text)
  SELECT c.tenant_id, c.id, lower(concat_ws(' ', c.company_name, (
    SELECT string_agg(concat_ws(' ', k.name, k.email), ' ' ORDER BY k.id)
    FROM contacts k WHERE k.tenant_id = c.tenant_id AND k.client_id = c.id)))
  FROM clients c WHERE c.tenant_id = p_tenant AND c.id = p_client
  ON CONFLICT (tenant_id, client_id) DO UPDATE SET search_text = EXCLUDED.search_text
$$""",
    """
CREATE FUNCTION crm_clients_search_after() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM crm_refresh_client_search(NEW.tenant_id, NEW.id);
  RETURN NULL;
END $$""",
    """
CREATE FUNCTION crm_contacts_search_after() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    PERFORM crm_refresh_client_search(OLD.tenant_id, OLD.client_id);
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    PERFORM crm_refresh_client_search(NEW.tenant_id, NEW.client_id);
  END IF;
  RETURN NULL;
END $$""",
    """
CREATE TRIGGER clients_search_text AFTER INSERT OR UPDATE OF company_name ON clients
  FOR EACH ROW EXECUTE FUNCTION crm_clients_search_after()""",
    """
CREATE TRIGGER contacts_search_text AFTER INSERT OR UPDATE OR DELETE ON contacts
  FOR EACH ROW EXECUTE FUNCTION crm_contacts_search_after()""",
    # The search itself. Row-level security would keep the LIKE out of the index (the
    # operator is not leakproof, so PostgreSQL evaluates it only after the policy, row by
    # row), so the search runs as the table owner, for whom `client_search`'s policy is not
    # FORCEd, and takes the agency from the transaction's own setting — never an argument.
    # With no tenant set it finds nothing.
    f"""
CREATE FUNCTION crm_search_clients(p_pattern text)
RETURNS SETOF uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public ROWS 50 AS $$
  SELECT client_id FROM client_search
  WHERE tenant_id = NULLIF(current_setting('{TENANT_SETTING}', true), '')::uuid
    AND search_text LIKE p_pattern
$$""",
]


def upgrade() -> None:
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gin")
    text_array = ARRAY(sa.Text())

    # --- clients: the remaining fields ---------------------------------------------
    op.add_column("clients", sa.Column("tags", text_array, nullable=False, server_default="{}"))
    for name, length in (
        ("address_line1", 200),
        ("address_line2", 200),
        ("city", 100),
        ("region", 100),
        ("postal_code", 20),
        ("country", 2),
    ):
        op.add_column("clients", sa.Column(name, sa.String(length)))
    op.add_column("clients", sa.Column("external_id", sa.String(200)))
    # Read-model fields fed by events (billing's paid invoices, timeline activity).
    op.add_column(
        "clients",
        sa.Column("total_revenue_cents", sa.BigInteger(), nullable=False, server_default="0"),
    )
    op.add_column("clients", sa.Column("last_activity_at", sa.DateTime(timezone=True)))
    op.create_check_constraint("country_code", "clients", "country ~ '^[A-Z]{2}$'")
    op.create_check_constraint("currency_code", "clients", "currency ~ '^[A-Z]{3}$'")
    op.create_index(
        "uq_clients_external_id",
        "clients",
        ["tenant_id", "external_id"],
        unique=True,
        postgresql_where=sa.text("external_id IS NOT NULL"),
    )
    op.create_index(
        "ix_clients_tenant_company", "clients", ["tenant_id", sa.text("lower(company_name)")]
    )
    op.create_index("ix_clients_tenant_owner", "clients", ["tenant_id", "owner_id"])
    op.create_index("ix_clients_tenant_revenue", "clients", ["tenant_id", "total_revenue_cents"])
    op.create_index("ix_clients_tenant_activity", "clients", ["tenant_id", "last_activity_at"])
    op.create_index("ix_clients_tags", "clients", ["tenant_id", "tags"], postgresql_using="gin")

    # --- contacts ------------------------------------------------------------------------------
    op.create_table(
        "contacts",
        *tenant_pk_columns(),
        sa.Column("client_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320)),
        sa.Column("phone", sa.String(50)),
        sa.Column("title", sa.String(200)),
        sa.Column("is_primary", sa.Boolean(), nullable=False, server_default=sa.false()),
        *timestamp_columns(),
        _client_fk("CASCADE"),
    )
    op.create_index("ix_contacts_client", "contacts", ["tenant_id", "client_id"])
    # At most one primary contact per client (the service keeps "exactly one when any").
    op.create_index(
        "uq_contacts_one_primary",
        "contacts",
        ["tenant_id", "client_id"],
        unique=True,
        postgresql_where=sa.text("is_primary"),
    )
    enable_tenant_rls("contacts")

    # --- search ------------------------------------------------------------------------------
    op.create_table(
        "client_search",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("client_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("search_text", sa.Text(), nullable=False),
        _client_fk("CASCADE"),
    )
    op.execute(
        "CREATE INDEX ix_client_search_text ON client_search "
        "USING gin (tenant_id, search_text gin_trgm_ops)"
    )
    # Like every tenant table for the application role; not FORCEd, so that the owner's
    # search function (below) can use the index.
    op.execute("ALTER TABLE client_search ENABLE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON client_search "
        f"USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})"
    )
    for statement in SEARCH_STATEMENTS:
        op.execute(statement)
    op.execute(
        "INSERT INTO client_search (tenant_id, client_id, search_text) "
        "SELECT tenant_id, id, lower(company_name) FROM clients"
    )

    # --- timeline ------------------------------------------------------------------------------
    op.create_table(
        "timeline_entries",
        *tenant_pk_columns(),
        sa.Column("client_id", UUID(as_uuid=True), nullable=False),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("body", sa.Text()),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", UUID(as_uuid=True)),
        sa.Column("data", JSONB, nullable=False, server_default="{}"),
        # Set for entries written from an event: one entry per event, however often delivered.
        sa.Column("source_event_id", UUID(as_uuid=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        _client_fk("CASCADE"),
        sa.CheckConstraint(
            "kind IN ('note', 'call', 'email', 'meeting', 'deal_created', 'deal_stage_changed', "
            "'deal_won', 'deal_lost', 'project_created', 'invoice_sent', 'invoice_paid')",
            name="kind_known",
        ),
    )
    op.create_index(
        "ix_timeline_client_time",
        "timeline_entries",
        ["tenant_id", "client_id", sa.text("occurred_at DESC"), sa.text("id DESC")],
    )
    op.create_index(
        "uq_timeline_source_event",
        "timeline_entries",
        ["tenant_id", "source_event_id"],
        unique=True,
        postgresql_where=sa.text("source_event_id IS NOT NULL"),
    )
    enable_tenant_rls("timeline_entries")

    # --- pipelines and stages ------------------------------------------------------------------
    op.create_table(
        "pipelines",
        *tenant_pk_columns(),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("is_default", sa.Boolean(), nullable=False, server_default=sa.false()),
        *timestamp_columns(),
    )
    op.create_index(
        "uq_pipelines_one_default",
        "pipelines",
        ["tenant_id"],
        unique=True,
        postgresql_where=sa.text("is_default"),
    )
    enable_tenant_rls("pipelines")
    op.create_table(
        "stages",
        *tenant_pk_columns(),
        sa.Column("pipeline_id", UUID(as_uuid=True), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("kind", sa.String(10), nullable=False),
        sa.Column("probability", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        *timestamp_columns(),
        sa.ForeignKeyConstraint(
            ["tenant_id", "pipeline_id"],
            ["pipelines.tenant_id", "pipelines.id"],
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("kind IN ('open', 'won', 'lost')", name="kind_known"),
        sa.CheckConstraint("probability BETWEEN 0 AND 100", name="probability_range"),
    )
    op.create_index(
        "uq_stages_pipeline_name",
        "stages",
        ["tenant_id", "pipeline_id", sa.text("lower(name)")],
        unique=True,
    )
    enable_tenant_rls("stages")

    # --- deals ---------------------------------------------------------------------------------
    op.create_table(
        "deals",
        *tenant_pk_columns(),
        sa.Column("pipeline_id", UUID(as_uuid=True), nullable=False),
        sa.Column("stage_id", UUID(as_uuid=True), nullable=False),
        sa.Column("client_id", UUID(as_uuid=True), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("value_cents", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("currency", sa.String(3), nullable=False),
        # NULL: the stage's probability applies.
        sa.Column("probability", sa.Integer()),
        sa.Column("expected_close_date", sa.Date()),
        sa.Column("assigned_to", UUID(as_uuid=True)),
        sa.Column("description", sa.Text()),
        # Kanban order within a stage: fractional, so a move rewrites one row.
        sa.Column("position", sa.Float(precision=53), nullable=False, server_default="0"),
        sa.Column("template_id", UUID(as_uuid=True)),
        sa.Column("project_id", UUID(as_uuid=True)),
        sa.Column("lost_reason", sa.Text()),
        sa.Column("closed_at", sa.DateTime(timezone=True)),
        sa.Column("created_by", UUID(as_uuid=True), nullable=False),
        *timestamp_columns(),
        _client_fk(),
        sa.ForeignKeyConstraint(["tenant_id", "stage_id"], ["stages.tenant_id", "stages.id"]),
        sa.ForeignKeyConstraint(
            ["tenant_id", "pipeline_id"], ["pipelines.tenant_id", "pipelines.id"]
        ),
        sa.CheckConstraint("value_cents >= 0", name="value_not_negative"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_code"),
        sa.CheckConstraint("probability BETWEEN 0 AND 100", name="probability_range"),
        sa.CheckConstraint("length(btrim(title)) > 0", name="title_present"),
    )
    op.create_index("ix_deals_stage_position", "deals", ["tenant_id", "stage_id", "position"])
    op.create_index("ix_deals_client", "deals", ["tenant_id", "client_id"])
    op.create_index("ix_deals_assigned", "deals", ["tenant_id", "assigned_to"])
    enable_tenant_rls("deals")

    # --- background jobs (CSV import) ---------------------------------------------------------
    op.create_table(
        "jobs",
        *tenant_pk_columns(),
        sa.Column("kind", sa.String(40), nullable=False),
        sa.Column("status", sa.String(20), nullable=False, server_default="queued"),
        sa.Column("input", sa.Text()),  # the uploaded CSV, dropped when the job ends
        sa.Column("total", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("processed", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("created", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("errors", JSONB, nullable=False, server_default="[]"),
        sa.Column("created_by", UUID(as_uuid=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("started_at", sa.DateTime(timezone=True)),
        sa.Column("finished_at", sa.DateTime(timezone=True)),
        *timestamp_columns(),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'completed', 'failed')", name="status_known"
        ),
    )
    op.create_index(
        "ix_jobs_queued",
        "jobs",
        ["created_at"],
        postgresql_where=sa.text("status IN ('queued', 'running')"),
    )
    enable_tenant_rls("jobs")
    # The job runner looks for queued work across agencies (read only); it then claims and
    # runs each job in a transaction under the job's own tenant.
    op.execute(
        f"CREATE POLICY jobs_runner ON jobs FOR SELECT "
        f"USING (current_setting('{JOB_RUNNER_SETTING}', true) = 'on')"
    )


def downgrade() -> None:
    op.drop_table("jobs")
    op.drop_table("deals")
    op.drop_table("stages")
    op.drop_table("pipelines")
    op.drop_table("timeline_entries")
    op.execute("DROP TRIGGER contacts_search_text ON contacts")
    op.execute("DROP TRIGGER clients_search_text ON clients")
    op.execute("DROP FUNCTION crm_search_clients(text)")
    op.execute("DROP FUNCTION crm_contacts_search_after()")
    op.execute("DROP FUNCTION crm_clients_search_after()")
    op.execute("DROP FUNCTION crm_refresh_client_search(uuid, uuid)")
    op.drop_table("client_search")
    op.drop_table("contacts")
    op.drop_index("ix_clients_tags", table_name="clients")
    op.drop_index("ix_clients_tenant_activity", table_name="clients")
    op.drop_index("ix_clients_tenant_revenue", table_name="clients")
    op.drop_index("ix_clients_tenant_owner", table_name="clients")
    op.drop_index("ix_clients_tenant_company", table_name="clients")
    op.drop_index("uq_clients_external_id", table_name="clients")
    op.drop_constraint(op.f("ck_clients_currency_code"), "clients", type_="check")
    op.drop_constraint(op.f("ck_clients_country_code"), "clients", type_="check")
    for name in (
        "last_activity_at",
        "total_revenue_cents",
        "external_id",
        "country",
        "postal_code",
        "region",
        "city",
        "address_line2",
        "address_line1",
        "tags",
    ):
        op.drop_column("clients", name)
