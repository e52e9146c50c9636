"""an invoice remembers whom it was addressed to, and from whom, when it is sent

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 01:00:00

Sending keeps the client's company name, primary contact (name and email) and billing address
as CRM had them, and the agency's name, brand colour and logo as identity had them. The invoice
events carry the addressee (for the notification service, which cannot ask CRM), and the PDF
of a sent invoice shows what was sent, also through the signed link that needs no login (so
no token to ask identity or CRM with). Invoices sent before this have none: their PDF asks
the peers, as before.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

COLUMNS = [
    sa.Column("bill_to_client_name", sa.Text(), nullable=True),
    sa.Column("bill_to_contact_name", sa.Text(), nullable=True),
    sa.Column("bill_to_email", sa.Text(), nullable=True),
    sa.Column("bill_to_address", ARRAY(sa.Text()), nullable=True),
    sa.Column("issuer_name", sa.Text(), nullable=True),
    sa.Column("issuer_brand_color", sa.String(32), nullable=True),
    sa.Column("issuer_logo_url", sa.String(2048), nullable=True),
]


def upgrade() -> None:
    for column in COLUMNS:
        op.add_column("invoices", column)


def downgrade() -> None:
    for column in reversed(COLUMNS):
        op.drop_column("invoices", column.name)
