"""Looking at a service's real database from a test, the way the application would: one
transaction with the tenant (or the outbox relay flag) set transaction-locally, since
row-level security is FORCEd even for the owner role."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from agencyos.common.db import RELAY_SETTING, TENANT_SETTING
from agencyos.testing.infra import Infra


async def fetch_rows(
    infra: Infra,
    database: str,
    query: str,
    *args: Any,
    tenant_id: uuid.UUID | None = None,
    owner: bool = False,
    relay: bool = False,
) -> list[asyncpg.Record]:
    """Run `query` in one transaction as the app role (or the owner role), with the tenant
    and/or the relay flag set for that transaction only."""
    conn = await infra.raw(database, owner=owner)
    try:
        async with conn.transaction():
            if tenant_id is not None:
                await conn.execute(
                    "SELECT set_config($1, $2, true)", TENANT_SETTING, str(tenant_id)
                )
            if relay:
                await conn.execute("SELECT set_config($1, 'on', true)", RELAY_SETTING)
            return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def fetch_value(
    infra: Infra,
    database: str,
    query: str,
    *args: Any,
    tenant_id: uuid.UUID | None = None,
    owner: bool = False,
    relay: bool = False,
) -> Any:
    """The first column of the first row of `query` (see `fetch_rows`)."""
    rows = await fetch_rows(
        infra, database, query, *args, tenant_id=tenant_id, owner=owner, relay=relay
    )
    return rows[0][0] if rows else None
