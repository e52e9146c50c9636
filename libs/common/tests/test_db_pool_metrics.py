"""`agencyos_db_pool_connections{service, state}`: a service's pool connections in use and
idle, read from the real pool at scrape time (the saturation panel of each service)."""

from __future__ import annotations

import uuid

from prometheus_client import REGISTRY
from sqlalchemy import text

from agencyos.common.db import Database
from agencyos.common.metrics import DB_POOLS
from agencyos.testing.infra import Infra


def _connections(service: str, state: str) -> float | None:
    return REGISTRY.get_sample_value(
        "agencyos_db_pool_connections", {"service": service, "state": state}
    )


async def test_connections_in_use_and_idle_are_reported(infra: Infra, scratch_db: str) -> None:
    service = f"pooled-{uuid.uuid4().hex[:6]}"
    database = Database(infra.dsn(scratch_db), pool_size=3)
    DB_POOLS.watch(service, database.engine.sync_engine.pool)
    try:
        async with database.transaction(None) as session:
            await session.execute(text("SELECT 1"))
            assert _connections(service, "in_use") == 1
        assert _connections(service, "in_use") == 0
        assert _connections(service, "idle") == 1
    finally:
        await database.dispose()
