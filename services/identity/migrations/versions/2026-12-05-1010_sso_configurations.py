"""single sign-on: each agency's OpenID Connect provider, accounts without a password, and
the agency row readable by its slug for a sign-in that starts from it

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 10:00:00

`GET /v1/auth/sso/{agency_slug}/start` has nothing but the slug: a transaction that sets
`agencyos.sso_agency_slug` sees that one agency's row (and nothing else), then works under its
tenant as usual. An account made by single sign-on has no password (NULL never verifies). A
session remembers how it was signed in to (`refresh_tokens.amr`, added by 0008): a single
sign-on session is good for its agency only (no switching to the person's other agencies).
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, UUID

from agencyos.common.migrations import enable_tenant_rls

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

SLUG_SETTING = "agencyos.sso_agency_slug"


def upgrade() -> None:
    op.create_table(
        "sso_configurations",
        sa.Column("tenant_id", UUID(as_uuid=True), sa.ForeignKey("agencies.id"), primary_key=True),
        sa.Column("issuer", sa.String(2048), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("client_secret_sealed", sa.Text(), nullable=False),
        sa.Column("allowed_email_domains", ARRAY(sa.Text()), nullable=False, server_default="{}"),
        sa.Column("default_role", sa.String(20), nullable=False, server_default="member"),
        sa.Column("sso_required", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("enabled", sa.Boolean(), nullable=False, server_default=sa.true()),
        sa.Column("authorization_endpoint", sa.String(2048), nullable=False),
        sa.Column("token_endpoint", sa.String(2048), nullable=False),
        sa.Column("jwks_uri", sa.String(2048), nullable=False),
        # how the client authenticates at the token endpoint (what discovery said it supports)
        sa.Column(
            "token_endpoint_auth_method",
            sa.String(40),
            nullable=False,
            server_default="client_secret_basic",
        ),
        sa.Column("updated_by", UUID(as_uuid=True), sa.ForeignKey("users.id")),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        # Never the owner (break-glass stays with people the agency made owners), never a
        # client (a client membership is bound to one of the agency's clients).
        sa.CheckConstraint("default_role IN ('admin', 'manager', 'member')", name="role_known"),
        sa.CheckConstraint(
            "token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post')",
            name="token_auth_known",
        ),
    )
    enable_tenant_rls("sso_configurations")
    op.execute(
        "CREATE POLICY agencies_sso_slug_read ON agencies FOR SELECT USING "
        f"(slug = NULLIF(current_setting('{SLUG_SETTING}', true), ''))"
    )
    op.alter_column("users", "password_hash", existing_type=sa.String(255), nullable=True)


def downgrade() -> None:
    op.execute("UPDATE users SET password_hash = '!' WHERE password_hash IS NULL")
    op.alter_column("users", "password_hash", existing_type=sa.String(255), nullable=False)
    op.execute("DROP POLICY agencies_sso_slug_read ON agencies")
    op.drop_table("sso_configurations")
