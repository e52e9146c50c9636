"""magic-link sign-in tokens; a two-factor challenge remembers its first factor

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 12:00:00

`magic_link_tokens` is global like `password_reset_tokens` (a link is spent before any tenant
is known); each row names the agency it signs in to. `mfa_challenges.first_factor` says how
the first step was passed (`pwd`, or `email` for a magic link), so the session's `amr` after
the second step is honest.
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "magic_link_tokens",
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
        sa.Column("user_id", UUID(as_uuid=True), sa.ForeignKey("users.id"), nullable=False),
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("agencies.id"), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True)),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    op.create_index("ix_magic_link_tokens_user_id", "magic_link_tokens", ["user_id"])
    op.add_column(
        "mfa_challenges",
        sa.Column("first_factor", sa.String(16), nullable=False, server_default="pwd"),
    )


def downgrade() -> None:
    op.drop_column("mfa_challenges", "first_factor")
    op.drop_index("ix_magic_link_tokens_user_id", table_name="magic_link_tokens")
    op.drop_table("magic_link_tokens")
