"""Alembic helpers: run a service's migrations as the owner role; RLS and platform tables.

A service's `migrations/env.py` is two lines: `run_env(Base.metadata)`. Its first revision
calls `create_platform_tables()` (outbox, inbox, idempotency keys) and `enable_tenant_rls()`
on every tenant table.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command, context, op
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from agencyos.common.db import RELAY_SETTING, TENANT_SETTING

APP_ROLE_OPTION = "agencyos_app_role"

TENANT_PREDICATE = f"tenant_id = NULLIF(current_setting('{TENANT_SETTING}', true), '')::uuid"


# --- column shapes every service's tables share ---------------------------------------------


def uuid_column(name: str, *, nullable: bool = True) -> sa.Column[Any]:
    return sa.Column(name, UUID(as_uuid=True), nullable=nullable)


def tenant_pk_columns() -> list[sa.Column[Any]]:
    """`(tenant_id, id)`: the composite primary key of a tenant-owned table."""
    return [
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("id", UUID(as_uuid=True), primary_key=True),
    ]


def timestamp_columns() -> list[sa.Column[Any]]:
    """`created_at` and `updated_at`, both defaulting to now()."""
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    ]


def enable_tenant_rls(table: str, *, extra_using: str | None = None) -> None:
    """Enable and FORCE row-level security on `table` with the standard tenant policy.

    `extra_using` adds a second, read-only permissive policy (e.g. a user's own rows).
    """
    op.execute(f"ALTER TABLE {table} ENABLE ROW LEVEL SECURITY")
    op.execute(f"ALTER TABLE {table} FORCE ROW LEVEL SECURITY")
    op.execute(
        f"CREATE POLICY tenant_isolation ON {table} "
        f"USING ({TENANT_PREDICATE}) WITH CHECK ({TENANT_PREDICATE})"
    )
    if extra_using:
        op.execute(f"CREATE POLICY {table}_extra_read ON {table} FOR SELECT USING ({extra_using})")


def create_platform_tables() -> None:
    """outbox, inbox and idempotency_keys: the tables agencyos.common's machinery writes."""
    op.create_table(
        "outbox",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("tenant_id", UUID(as_uuid=True), nullable=False),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("envelope", JSONB, nullable=False),
        sa.Column("headers", JSONB, nullable=False, server_default=sa.text("'{}'::jsonb")),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
    )
    op.create_index(
        "ix_outbox_unpublished", "outbox", ["id"], postgresql_where=sa.text("published_at IS NULL")
    )
    enable_tenant_rls("outbox")
    # The relay publishes every agency's events; it alone sets this flag.
    op.execute(
        "CREATE POLICY outbox_relay ON outbox "
        f"USING (current_setting('{RELAY_SETTING}', true) = 'on')"
    )
    op.create_table(
        "inbox",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("handled_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    enable_tenant_rls("inbox")
    op.create_table(
        "idempotency_keys",
        sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("principal_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("request_hash", sa.Text, nullable=False),
        sa.Column("state", sa.Text, nullable=False),
        sa.Column("response_status", sa.Integer),
        sa.Column("response_headers", JSONB),
        sa.Column("response_body", sa.LargeBinary),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.func.now()),
    )
    enable_tenant_rls("idempotency_keys")


def drop_platform_tables() -> None:
    """The reverse of create_platform_tables, for a first revision's downgrade."""
    for table in ("idempotency_keys", "inbox", "outbox"):
        op.drop_table(table)


def append_only_tables(metadata: MetaData) -> frozenset[str]:
    """The tables a service's models mark `info={"append_only": True}` (an audit log)."""
    return frozenset(
        name for name, table in metadata.tables.items() if table.info.get("append_only")
    )


def grant_app_role(
    connection: Connection, app_role: str, append_only: frozenset[str] = frozenset()
) -> None:
    """The application role may read and write rows, never change schema or own anything.
    An `append_only` table it may only read and add to: UPDATE, DELETE and TRUNCATE are
    revoked (also when an earlier run granted them)."""
    quoted = connection.dialect.identifier_preparer.quote(app_role)
    tables = connection.execute(
        sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
            "AND tablename <> 'alembic_version'"
        )
    ).scalars()
    for table in tables:
        if table in append_only:
            connection.execute(
                sa.text(f'REVOKE UPDATE, DELETE, TRUNCATE ON "{table}" FROM {quoted}')
            )
            connection.execute(sa.text(f'GRANT SELECT, INSERT ON "{table}" TO {quoted}'))
            continue
        connection.execute(
            sa.text(f'GRANT SELECT, INSERT, UPDATE, DELETE ON "{table}" TO {quoted}')
        )
    connection.execute(sa.text(f"GRANT USAGE ON SCHEMA public TO {quoted}"))
    connection.execute(
        sa.text(f"GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO {quoted}")
    )


def run_env(target_metadata: MetaData) -> None:
    """The body of every service's migrations/env.py (online, async engine)."""
    config = context.config
    url = config.get_main_option("sqlalchemy.url")
    app_role = config.get_main_option(APP_ROLE_OPTION) or "agencyos_app"
    assert url, "sqlalchemy.url must be set by the migrate command"

    def run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()
            grant_app_role(connection, app_role, append_only_tables(target_metadata))

    async def main() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(run)
            await connection.commit()
        await engine.dispose()

    asyncio.run(main())


def upgrade_head(service_dir: Path, migration_url: str, app_role: str) -> None:
    """Upgrade a service database to head (what `python -m agencyos.<svc> migrate` does)."""
    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.set_main_option("sqlalchemy.url", migration_url.replace("%", "%%"))
    config.set_main_option(APP_ROLE_OPTION, app_role)
    command.upgrade(config, "head")
