"""an invoice remembers its agency's slug when it is sent

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05 12:00:00

The invoice events carry it (`issuer.slug`), so the client's emails link to the invoice's page
in the client portal (`/portal/<slug>/invoices/<id>`, where a fresh payment page is made on
each visit) instead of a Checkout page that lives 24 hours. Invoices sent before this have
none: their emails keep the Checkout link.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("invoices", sa.Column("issuer_slug", sa.String(63), nullable=True))


def downgrade() -> None:
    op.drop_column("invoices", "issuer_slug")
