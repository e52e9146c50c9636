"""an invoice remembers its agency's time zone when it is sent

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30 02:00:00

The issue and due dates are days in the agency's time zone; the scheduler judges "past due"
and reminder days in that same zone. Invoices sent before this have none and are judged in
UTC, as before.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invoices", sa.Column("timezone", sa.String(64), nullable=True))


def downgrade() -> None:
    op.drop_column("invoices", "timezone")
