"""identity 0005: agencies that tuned a role before `clients.export` existed keep its export."""

from __future__ import annotations

import asyncio
import uuid

from alembic import command

from agencyos.common.db import TENANT_SETTING
from agencyos.testing.infra import Infra

from .test_roundtrip import _config


async def _tune_roles(infra: Infra, database: str, tenant: uuid.UUID) -> None:
    conn = await infra.raw(database, owner=True)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config($1, $2, true)", TENANT_SETTING, str(tenant))
            await conn.execute(
                "INSERT INTO agencies (id, slug, name) VALUES ($1, $2, 'Tuned Agency')",
                tenant,
                f"tuned-{tenant.hex[:8]}",
            )
            await conn.executemany(
                "INSERT INTO role_permissions (tenant_id, role, permissions) VALUES ($1, $2, $3)",
                [
                    (tenant, "manager", ["clients.read", "clients.write"]),
                    (tenant, "admin", ["projects.read"]),
                    (tenant, "member", ["clients.read"]),
                ],
            )
    finally:
        await conn.close()


async def _stored(infra: Infra, database: str, tenant: uuid.UUID) -> dict[str, list[str]]:
    conn = await infra.raw(database, owner=True)
    try:
        async with conn.transaction():
            await conn.execute("SELECT set_config($1, $2, true)", TENANT_SETTING, str(tenant))
            rows = await conn.fetch("SELECT role, permissions FROM role_permissions")
        return {r["role"]: list(r["permissions"]) for r in rows}
    finally:
        await conn.close()


def test_a_tuned_manager_that_reads_clients_keeps_exporting_and_members_gain_nothing() -> None:
    infra = Infra.from_env()
    database = f"agencyos_test_migrations_export_{uuid.uuid4().hex[:6]}"
    tenant = uuid.uuid4()
    asyncio.run(infra.recreate_database(database))
    config = _config("identity", infra, database)
    try:
        command.upgrade(config, "0004")
        asyncio.run(_tune_roles(infra, database, tenant))

        command.upgrade(config, "0005")
        upgraded = asyncio.run(_stored(infra, database, tenant))

        assert upgraded["manager"] == ["clients.read", "clients.write", "clients.export"]
        assert upgraded["admin"] == ["projects.read"]  # could not read clients: nothing to keep
        assert upgraded["member"] == ["clients.read"]

        command.downgrade(config, "0004")
        assert asyncio.run(_stored(infra, database, tenant))["manager"] == [
            "clients.read",
            "clients.write",
        ]
    finally:
        asyncio.run(infra.drop_database(database))
