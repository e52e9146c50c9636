"""sessions: where a refresh-token family was used from, and indexes to find a family fast

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-21 14:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Of the request that issued the token (login, switch or refresh); shown in the session list.
    op.add_column("refresh_tokens", sa.Column("user_agent", sa.Text()))
    op.add_column("refresh_tokens", sa.Column("ip_address", sa.Text()))
    # Reuse detection and logout revoke a whole family; the session list reads a user's.
    op.create_index("ix_refresh_tokens_family", "refresh_tokens", ["tenant_id", "family_id"])
    op.create_index("ix_refresh_tokens_user", "refresh_tokens", ["tenant_id", "user_id"])


def downgrade() -> None:
    op.drop_index("ix_refresh_tokens_user", table_name="refresh_tokens")
    op.drop_index("ix_refresh_tokens_family", table_name="refresh_tokens")
    op.drop_column("refresh_tokens", "ip_address")
    op.drop_column("refresh_tokens", "user_agent")
