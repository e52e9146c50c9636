"""invoices and their lines, per-agency invoice numbering, payments and refunds, Stripe
customers, processed Stripe events and which agency a Stripe object belongs to, billable
milestones (from work's events), reminders sent, per-agency billing settings

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 22:00:00

Integrity the database holds itself: money is integer minor units; an invoice's total is its
subtotal plus its tax; a number is unique per agency and only a non-draft invoice has one;
one counter row per agency hands out numbers (its row lock makes them gapless under
concurrent sends); each Stripe event is processed once (primary key); a milestone is billed
by at most one invoice at a time; each reminder is sent once per invoice.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

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

INVOICE_STATUSES = "('draft', 'sent', 'paid', 'partially_paid', 'overdue', 'void')"
# the scheduler finds due invoices across agencies (read only), then acts on each under its
# own tenant; only a transaction that sets this flag sees other agencies' rows
SCHEDULER_SETTING = "app.billing_scheduler"


def _money(name: str) -> sa.Column:
    return sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")


def upgrade() -> None:
    op.create_table(
        "billing_settings",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("payment_terms_days", sa.Integer(), nullable=False, server_default="30"),
        # days relative to the due date: negative before it, positive after it
        sa.Column(
            "reminder_offsets_days",
            ARRAY(sa.Integer()),
            nullable=False,
            server_default="{-3,1,7}",
        ),
        # what the invoice PDF prints under the agency's name
        sa.Column("sender_address", sa.Text()),
        sa.Column("tax_number", sa.String(50)),
        sa.Column("invoice_footer", sa.Text()),
        *timestamp_columns(),
        sa.CheckConstraint(
            "payment_terms_days >= 0 AND payment_terms_days <= 365", name="terms_within_year"
        ),
    )
    enable_tenant_rls("billing_settings")
    op.execute(
        f"CREATE POLICY billing_settings_scheduler ON billing_settings FOR SELECT "
        f"USING (current_setting('{SCHEDULER_SETTING}', true) = 'on')"
    )

    op.create_table(
        "invoices",
        *tenant_pk_columns(),
        uuid_column("client_id", nullable=False),
        sa.Column("project_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
        sa.Column("number", sa.String(40)),
        sa.Column("status", sa.String(20), nullable=False, server_default="draft"),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("issue_date", sa.Date()),
        sa.Column("due_date", sa.Date()),
        sa.Column("due_in_days", sa.Integer(), nullable=False, server_default="30"),
        sa.Column("period_from", sa.Date()),
        sa.Column("period_to", sa.Date()),
        _money("subtotal_cents"),
        _money("tax_cents"),
        _money("total_cents"),
        _money("amount_paid_cents"),
        sa.Column("notes", sa.Text()),
        sa.Column("payment_url", sa.Text()),
        sa.Column("stripe_checkout_session_id", sa.String(255)),
        sa.Column("sent_at", sa.DateTime(timezone=True)),
        sa.Column("paid_at", sa.DateTime(timezone=True)),
        sa.Column("voided_at", sa.DateTime(timezone=True)),
        sa.Column("void_reason", sa.Text()),
        sa.Column("version", sa.Integer(), nullable=False, server_default="1"),
        uuid_column("created_by"),
        *timestamp_columns(),
        sa.CheckConstraint(f"status IN {INVOICE_STATUSES}", name="status_known"),
        sa.CheckConstraint("total_cents = subtotal_cents + tax_cents", name="total_adds_up"),
        sa.CheckConstraint("amount_paid_cents >= 0", name="paid_not_negative"),
        sa.CheckConstraint("currency ~ '^[A-Z]{3}$'", name="currency_iso"),
        sa.CheckConstraint("(status = 'draft') = (number IS NULL)", name="numbered_once_sent"),
        sa.CheckConstraint("due_in_days >= 0 AND due_in_days <= 365", name="due_within_year"),
    )
    op.create_index(
        "uq_invoices_number",
        "invoices",
        ["tenant_id", "number"],
        unique=True,
        postgresql_where=sa.text("number IS NOT NULL"),
    )
    op.create_index("ix_invoices_client", "invoices", ["tenant_id", "client_id"])
    op.create_index("ix_invoices_status_due", "invoices", ["tenant_id", "status", "due_date"])
    op.create_index(
        "ix_invoices_open_due",
        "invoices",
        ["due_date"],
        postgresql_where=sa.text("status IN ('sent', 'partially_paid', 'overdue')"),
    )
    op.create_index(
        "ix_invoices_checkout_session",
        "invoices",
        ["stripe_checkout_session_id"],
        postgresql_where=sa.text("stripe_checkout_session_id IS NOT NULL"),
    )
    enable_tenant_rls("invoices")
    op.execute(
        f"CREATE POLICY invoices_scheduler ON invoices FOR SELECT "
        f"USING (current_setting('{SCHEDULER_SETTING}', true) = 'on')"
    )

    op.create_table(
        "invoice_lines",
        *tenant_pk_columns(),
        uuid_column("invoice_id", nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("quantity", sa.Numeric(12, 4), nullable=False),
        sa.Column("unit_price_cents", sa.BigInteger(), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("tax_rate_bps", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("tax_cents", sa.BigInteger(), nullable=False, server_default="0"),
        # time | milestone | manual
        sa.Column("source_type", sa.String(20), nullable=False, server_default="manual"),
        sa.Column("time_entry_ids", ARRAY(UUID(as_uuid=True)), nullable=False, server_default="{}"),
        uuid_column("milestone_id"),
        uuid_column("project_id"),
        *timestamp_columns(),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            ondelete="CASCADE",
        ),
        sa.CheckConstraint(
            "source_type IN ('time', 'milestone', 'manual')", name="source_type_known"
        ),
        sa.CheckConstraint(
            "tax_rate_bps >= 0 AND tax_rate_bps <= 10000", name="tax_rate_within_100_percent"
        ),
        sa.CheckConstraint(
            "source_type <> 'milestone' OR milestone_id IS NOT NULL", name="milestone_named"
        ),
    )
    op.create_index("ix_invoice_lines_invoice", "invoice_lines", ["tenant_id", "invoice_id"])
    enable_tenant_rls("invoice_lines")

    # the next number per agency; sending takes this row's lock, so numbers are gapless
    op.create_table(
        "invoice_number_counters",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("last_number", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    enable_tenant_rls("invoice_number_counters")

    op.create_table(
        "payments",
        *tenant_pk_columns(),
        uuid_column("invoice_id", nullable=False),
        # > 0 a payment, < 0 a refund
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        # stripe | bank_transfer | cash | other
        sa.Column("method", sa.String(20), nullable=False),
        sa.Column("reference", sa.String(255)),
        sa.Column("stripe_payment_intent_id", sa.String(255)),
        sa.Column("stripe_charge_id", sa.String(255)),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        uuid_column("recorded_by"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("amount_cents <> 0", name="amount_not_zero"),
        sa.CheckConstraint(
            "method IN ('stripe', 'bank_transfer', 'cash', 'other')", name="method_known"
        ),
    )
    op.create_index("ix_payments_invoice", "payments", ["tenant_id", "invoice_id"])
    # one payment row per Stripe payment intent (a replayed or second event adds nothing)
    op.create_index(
        "uq_payments_stripe_intent",
        "payments",
        ["tenant_id", "stripe_payment_intent_id"],
        unique=True,
        postgresql_where=sa.text("stripe_payment_intent_id IS NOT NULL AND amount_cents > 0"),
    )
    enable_tenant_rls("payments")

    op.create_table(
        "stripe_customers",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("client_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("stripe_customer_id", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    enable_tenant_rls("stripe_customers")

    # Stripe events seen, by Stripe's own id. Not tenant-scoped: the webhook arrives with no
    # tenant, and the id alone decides "already processed".
    op.create_table(
        "stripe_events",
        sa.Column("id", sa.String(255), primary_key=True),
        sa.Column("type", sa.String(100), nullable=False),
        uuid_column("tenant_id"),
        uuid_column("invoice_id"),
        sa.Column("stripe_created", sa.DateTime(timezone=True)),
        # processed | ignored
        sa.Column("outcome", sa.String(20), nullable=False, server_default="processed"),
        sa.Column(
            "received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )

    # Which agency and invoice a Stripe object (checkout session cs_..., payment intent
    # pi_..., charge ch_...) belongs to, written when billing creates or first sees it. Not
    # tenant-scoped for the same reason: the webhook must find the tenant before it can set it.
    op.create_table(
        "stripe_references",
        sa.Column("stripe_id", sa.String(255), primary_key=True),
        uuid_column("tenant_id", nullable=False),
        uuid_column("invoice_id", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )

    # completed milestones with an amount, from work.milestone.completed
    op.create_table(
        "billable_milestones",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("milestone_id", UUID(as_uuid=True), primary_key=True),
        uuid_column("project_id", nullable=False),
        uuid_column("client_id"),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("amount_cents", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(3), nullable=False),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=False),
        # the invoice holding it (draft: reserved; sent: billed); NULL when unbilled
        uuid_column("invoice_id"),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.CheckConstraint("amount_cents > 0", name="amount_positive"),
    )
    op.create_index(
        "ix_billable_milestones_unbilled",
        "billable_milestones",
        ["tenant_id", "client_id"],
        postgresql_where=sa.text("invoice_id IS NULL"),
    )
    enable_tenant_rls("billable_milestones")

    # reminders and overdue notices already published: (invoice, kind) once
    op.create_table(
        "invoice_reminders",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("invoice_id", UUID(as_uuid=True), primary_key=True),
        # "overdue" or "reminder:<days from due>", e.g. "reminder:-3"
        sa.Column("kind", sa.String(40), primary_key=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.ForeignKeyConstraint(
            ["tenant_id", "invoice_id"],
            ["invoices.tenant_id", "invoices.id"],
            ondelete="CASCADE",
        ),
    )
    enable_tenant_rls("invoice_reminders")
    op.execute(
        f"CREATE POLICY invoice_reminders_scheduler ON invoice_reminders FOR SELECT "
        f"USING (current_setting('{SCHEDULER_SETTING}', true) = 'on')"
    )


def downgrade() -> None:
    op.drop_table("invoice_reminders")
    op.drop_table("billable_milestones")
    op.drop_table("stripe_references")
    op.drop_table("stripe_events")
    op.drop_table("stripe_customers")
    op.drop_table("payments")
    op.drop_table("invoice_number_counters")
    op.drop_table("invoice_lines")
    op.drop_table("invoices")
    op.drop_table("billing_settings")
