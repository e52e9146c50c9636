"""agency settings (logo, brand color, invoice prefix, default tax rate); password reset tokens

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21 14:30:00

`default_tax_rate_bps` is the default tax rate in integer basis points (1 bp = 0.01 %, so
2000 = 20 %, 10000 = 100 %): money code stays integer, like the `*_cents` amounts it applies to.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("agencies", sa.Column("logo_url", sa.String(2048)))
    op.add_column("agencies", sa.Column("brand_color", sa.String(7)))
    op.add_column(
        "agencies",
        sa.Column("invoice_prefix", sa.String(20), nullable=False, server_default="INV-"),
    )
    op.add_column(
        "agencies",
        sa.Column("default_tax_rate_bps", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_check_constraint(
        op.f("ck_agencies_brand_color_hex"), "agencies", "brand_color ~ '^#[0-9A-Fa-f]{6}$'"
    )
    op.create_check_constraint(
        op.f("ck_agencies_logo_url_https"), "agencies", "logo_url LIKE 'https://%'"
    )
    op.create_check_constraint(
        op.f("ck_agencies_default_tax_rate_bps_range"),
        "agencies",
        "default_tax_rate_bps BETWEEN 0 AND 10000",
    )
    op.create_check_constraint(
        op.f("ck_agencies_currency_code"), "agencies", "currency ~ '^[A-Z]{3}$'"
    )
    # A reset happens before anyone has a tenant, so the table is global like `users`.
    op.create_table(
        "password_reset_tokens",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_index("ix_password_reset_tokens_user_id", "password_reset_tokens", ["user_id"])


def downgrade() -> None:
    op.drop_index("ix_password_reset_tokens_user_id", table_name="password_reset_tokens")
    op.drop_table("password_reset_tokens")
    op.drop_constraint(op.f("ck_agencies_currency_code"), "agencies", type_="check")
    op.drop_constraint(op.f("ck_agencies_default_tax_rate_bps_range"), "agencies", type_="check")
    op.drop_constraint(op.f("ck_agencies_logo_url_https"), "agencies", type_="check")
    op.drop_constraint(op.f("ck_agencies_brand_color_hex"), "agencies", type_="check")
    op.drop_column("agencies", "default_tax_rate_bps")
    op.drop_column("agencies", "invoice_prefix")
    op.drop_column("agencies", "brand_color")
    op.drop_column("agencies", "logo_url")
