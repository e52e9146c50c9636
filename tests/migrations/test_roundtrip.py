"""Every service's migrations upgrade a fresh database, downgrade it to nothing, and upgrade
it again; and the application role ends up with rows to work on but no schema to change."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config

from agencyos.common.migrations import APP_ROLE_OPTION
from agencyos.common.services import SERVICES
from agencyos.testing.infra import Infra
from agencyos.testing.platform import REPO_ROOT


def _config(service: str, infra: Infra, database: str) -> Config:
    service_dir = Path(REPO_ROOT) / "services" / service
    config = Config(str(service_dir / "alembic.ini"))
    config.set_main_option("script_location", str(service_dir / "migrations"))
    config.set_main_option("sqlalchemy.url", infra.dsn(database, owner=True))
    config.set_main_option(APP_ROLE_OPTION, infra.app_user)
    return config


async def _tables(infra: Infra, database: str) -> set[str]:
    conn = await infra.raw(database, owner=True)
    try:
        rows = await conn.fetch("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {r["tablename"] for r in rows}
    finally:
        await conn.close()


async def _app_role_can(infra: Infra, database: str, sql: str) -> bool:
    conn = await infra.raw(database)
    try:
        await conn.execute(sql)
        return True
    except Exception:
        return False
    finally:
        await conn.close()


@pytest.mark.parametrize("service", SERVICES)
def test_migrations_round_trip(service: str) -> None:
    infra = Infra.from_env()
    database = f"agencyos_test_migrations_{service}_{uuid.uuid4().hex[:6]}"
    asyncio.run(infra.recreate_database(database))
    config = _config(service, infra, database)

    command.upgrade(config, "head")
    upgraded = asyncio.run(_tables(infra, database))
    assert {"outbox", "inbox", "idempotency_keys", "alembic_version"} <= upgraded

    command.downgrade(config, "base")
    assert asyncio.run(_tables(infra, database)) == {"alembic_version"}

    command.upgrade(config, "head")
    assert asyncio.run(_tables(infra, database)) == upgraded

    assert asyncio.run(_app_role_can(infra, database, "SELECT count(*) FROM outbox"))
    assert not asyncio.run(_app_role_can(infra, database, "DROP TABLE outbox"))
    assert not asyncio.run(_app_role_can(infra, database, "CREATE TABLE intruder (id int)"))
    asyncio.run(infra.drop_database(database))
