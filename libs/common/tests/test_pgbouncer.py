"""The services behind a real PgBouncer in transaction mode (the chart's CloudNativePG Pooler):
the tenant of a transaction (`set_config(..., true)`) and RLS hold on shared server
connections, the outbox and its relay work, and asyncpg needs `database_pgbouncer` there."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import ClassVar

import pytest
from sqlalchemy import text

from agencyos.common.db import RELAY_SETTING, Database, current_tenant
from agencyos.common.events import EventPayload
from agencyos.common.outbox import OutboxRelay, new_producer, publish
from agencyos.common.settings import ServiceSettings, service_config
from agencyos.testing.infra import Infra
from agencyos.testing.pgbouncer import PgBouncer, running_pgbouncer

TENANTS = 12
ROUNDS = 5


class PooledWidget(EventPayload):
    """A test-only event on the `outbox.events` topic the common tests create."""

    event_type: ClassVar[str] = "outbox.widget.pooled"
    widget_id: uuid.UUID


@pytest.fixture(scope="module")
def pgbouncer(infra: Infra) -> Iterator[PgBouncer]:
    with running_pgbouncer(infra, server_connections=2) as bouncer:
        yield bouncer


@pytest.fixture
async def pooled_db(pgbouncer: PgBouncer, scratch_db: str) -> AsyncIterator[Database]:
    # more client connections than PgBouncer has server connections
    database = Database(pgbouncer.dsn(scratch_db), pool_size=10, pgbouncer=True)
    yield database
    await database.dispose()


@pytest.fixture
async def tenants_with_widgets(db: Database) -> dict[uuid.UUID, set[uuid.UUID]]:
    made: dict[uuid.UUID, set[uuid.UUID]] = {}
    for _ in range(TENANTS):
        tenant = uuid.uuid4()
        made[tenant] = set()
        async with db.transaction(tenant) as session:
            for i in range(3):
                widget = uuid.uuid4()
                await session.execute(
                    text("INSERT INTO widgets (tenant_id, id, name) VALUES (:t, :id, :n)"),
                    {"t": tenant, "id": widget, "n": f"pooled {i}"},
                )
                made[tenant].add(widget)
    return made


async def _what_a_transaction_sees(
    database: Database, tenant: uuid.UUID, mine: set[uuid.UUID]
) -> tuple[uuid.UUID | None, set[uuid.UUID]]:
    async with database.transaction(tenant) as session:
        seen_tenant = await current_tenant(session)
        rows = (
            await session.execute(
                text("SELECT id FROM widgets WHERE id = ANY(:ids)"), {"ids": list(mine)}
            )
        ).scalars()
        # and nothing of anyone else
        others = (
            await session.execute(
                text("SELECT count(*) FROM widgets WHERE tenant_id <> :t"), {"t": tenant}
            )
        ).scalar_one()
        assert others == 0
        return seen_tenant, set(rows)


class TestThroughPgBouncer:
    async def test_each_transaction_sees_its_own_tenant_and_only_its_rows(
        self, pooled_db: Database, tenants_with_widgets: dict[uuid.UUID, set[uuid.UUID]]
    ) -> None:
        for _ in range(ROUNDS):
            calls = [
                _what_a_transaction_sees(pooled_db, tenant, mine)
                for tenant, mine in tenants_with_widgets.items()
                for _ in range(4)
            ]
            answers = await asyncio.gather(*calls)
            expected = [
                (tenant, mine) for tenant, mine in tenants_with_widgets.items() for _ in range(4)
            ]
            assert answers == expected

    async def test_a_transaction_without_a_tenant_sees_no_rows_after_tenant_ones_ran(
        self, pooled_db: Database, tenants_with_widgets: dict[uuid.UUID, set[uuid.UUID]]
    ) -> None:
        async def tenantless() -> int:
            async with pooled_db.transaction(None) as session:
                return int(
                    (await session.execute(text("SELECT count(*) FROM widgets"))).scalar_one()
                )

        work = [
            _what_a_transaction_sees(pooled_db, tenant, mine)
            for tenant, mine in tenants_with_widgets.items()
        ]
        results = await asyncio.gather(*work, *(tenantless() for _ in range(20)))
        # a tenant's setting is transaction-local: it never stays on a shared server connection
        assert results[len(work) :] == [0] * 20

    async def test_events_go_through_the_outbox_and_the_relay(
        self, pooled_db: Database, infra: Infra, kafka_topics: str
    ) -> None:
        tenant = uuid.uuid4()
        written = []
        for _ in range(10):
            async with pooled_db.transaction(tenant) as session:
                written.append(
                    (
                        await publish(
                            session, PooledWidget(widget_id=uuid.uuid4()), source_service="pooled"
                        )
                    ).id
                )
        relay = OutboxRelay("pooled", pooled_db, infra.kafka_bootstrap, topic_prefix=kafka_topics)
        producer = new_producer(infra.kafka_bootstrap, "agencyos-pooled-test")
        await producer.start()
        try:
            sent = 0
            for _ in range(20):
                sent += await relay.publish_batch(producer)
                async with pooled_db.transaction(None, settings={RELAY_SETTING: "on"}) as s:
                    waiting = (
                        await s.execute(
                            text(
                                "SELECT count(*) FILTER (WHERE published_at IS NULL) FROM outbox "
                                "WHERE tenant_id = :t"
                            ),
                            {"t": tenant},
                        )
                    ).scalar_one()
                if waiting == 0:
                    break
        finally:
            await producer.stop()
        assert waiting == 0
        assert sent >= len(written)


class TestWithoutTheSetting:
    async def test_asyncpgs_prepared_statements_collide_on_shared_server_connections(
        self, pgbouncer: PgBouncer, scratch_db: str
    ) -> None:
        """Why `database_pgbouncer` exists: the default engine keeps named prepared statements
        per client connection, which PgBouncer hands to other clients' transactions."""
        plain = Database(pgbouncer.dsn(scratch_db), pool_size=10, pgbouncer=False)

        async def one() -> None:
            async with plain.transaction(uuid.uuid4()) as session:
                await session.execute(text("SELECT 1"))
                await session.execute(text("SELECT count(*) FROM widgets"))

        try:
            failures = 0
            for _ in range(ROUNDS):
                results = await asyncio.gather(*(one() for _ in range(40)), return_exceptions=True)
                failures += sum(isinstance(r, Exception) for r in results)
        finally:
            await plain.dispose()
        assert failures > 0


class PooledSettings(ServiceSettings):
    service_name = "pooled"
    model_config = service_config("pooled")


def test_leadership_takes_the_direct_dsn_when_the_service_goes_through_the_pooler() -> None:
    pooled = "postgresql+asyncpg://app:pw@pooler:5432/agencyos_pooled"
    direct = "postgresql+asyncpg://app:pw@rw:5432/agencyos_pooled"

    behind = PooledSettings(
        database_url=pooled, leader_database_url=direct, database_pgbouncer=True
    )
    plain = PooledSettings(database_url=direct)

    assert behind.leader_database_url == direct
    assert plain.leader_database_url == direct  # defaults to the service's own DSN
