"""Fixtures the agencyos.common tests share: one scratch database (platform tables plus a small
tenant table, `widgets`) reached as the application role, and a Kafka topic prefix of this run.

Everything here talks to the real PostgreSQL and Kafka of the test run (`Infra`).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from alembic import op
from fastapi import APIRouter, FastAPI, Response
from pydantic import BaseModel, Field
from sqlalchemy import text
from sqlalchemy.dialects.postgresql import UUID
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Database
from agencyos.common.errors import Conflict, NotFound, ServiceUnavailable
from agencyos.common.migrations import create_platform_tables, enable_tenant_rls, grant_app_role
from agencyos.common.settings import ServiceSettings, service_config
from agencyos.common.web import (
    CurrentPrincipal,
    CurrentPrincipalEvenRestricted,
    ServiceContext,
    TenantSession,
    TenantSessionEvenRestricted,
    create_app,
    require,
)
from agencyos.testing.infra import Infra
from agencyos.testing.kafka import read_to_end
from agencyos.testing.keys import TestKeys

# Unique per run: concurrent runs on one PostgreSQL must not drop each other's database.
SCRATCH_DATABASE = f"agencyos_test_common_{uuid.uuid4().hex[:6]}"


class WidgetSettings(ServiceSettings):
    """Settings of a made-up service, `widgets`, that the web tests build apps for."""

    service_name = "widgets"
    model_config = service_config("widgets")


@pytest.fixture(scope="session")
async def scratch_db(infra: Infra) -> AsyncIterator[str]:
    """A fresh database with the platform tables and an RLS-protected `widgets` table,
    migrated as the owner role and granted to the application role like a real service."""
    await infra.recreate_database(SCRATCH_DATABASE)

    def body() -> None:
        create_platform_tables()
        op.create_table(
            "widgets",
            sa.Column("tenant_id", UUID(as_uuid=True), primary_key=True),
            sa.Column("id", UUID(as_uuid=True), primary_key=True),
            sa.Column("name", sa.Text, nullable=False),
        )
        enable_tenant_rls("widgets")
        grant_app_role(op.get_bind(), infra.app_user)

    await infra.run_operations(SCRATCH_DATABASE, body)
    yield SCRATCH_DATABASE
    await infra.drop_database(SCRATCH_DATABASE)


@pytest.fixture(scope="session")
async def db(infra: Infra, scratch_db: str) -> AsyncIterator[Database]:
    """The scratch database as the application role (owns nothing; RLS applies)."""
    database = Database(infra.dsn(scratch_db), pool_size=4)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def owner_db(infra: Infra, scratch_db: str) -> AsyncIterator[Database]:
    """The scratch database as the owning role, for inspecting rows behind RLS's back.

    The owner is subject to RLS too (it is FORCEd), so inspections set the relay flag or
    the tenant they look at, exactly like the application does.
    """
    database = Database(infra.dsn(scratch_db, owner=True), pool_size=2)
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
def topic_prefix() -> str:
    """A Kafka topic (and consumer group) prefix no other run shares."""
    return f"test-common-{uuid.uuid4().hex[:8]}."


@pytest.fixture(scope="session")
async def kafka_topics(infra: Infra, topic_prefix: str) -> AsyncIterator[str]:
    """Creates the run's topics (auto creation is off on the broker); deletes them after."""
    names = ["common.events", "runs.events", "outbox.events"]
    await infra.create_topics(
        [topic_prefix + name for name in names] + [topic_prefix + name + ".dlq" for name in names]
    )
    yield topic_prefix
    await infra.delete_topics(topic_prefix)


class KafkaProbe:
    """Produce to and read back from real topics, outside the code under test."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")

    async def produce(
        self,
        topic: str,
        value: bytes | None,
        *,
        key: bytes | None = None,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> ConsumerRecord[bytes, bytes]:
        """Produce one record and return it as a consumer will see it."""
        sent = await self.producer.send_and_wait(topic, value=value, key=key, headers=headers)
        return await self.fetch(topic, sent.partition, sent.offset)

    async def fetch(self, topic: str, partition: int, offset: int) -> ConsumerRecord[bytes, bytes]:
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, enable_auto_commit=False)
        await consumer.start()
        try:
            tp = TopicPartition(topic, partition)
            consumer.assign([tp])
            consumer.seek(tp, offset)
            return await asyncio.wait_for(consumer.getone(tp), 10)
        finally:
            await consumer.stop()

    async def read_all(self, topic: str) -> list[ConsumerRecord[bytes, bytes]]:
        """Every record in `topic` up to its current end."""
        return await read_to_end(self.bootstrap, topic)


@pytest.fixture(scope="session")
async def kafka(infra: Infra, kafka_topics: str) -> AsyncIterator[KafkaProbe]:
    probe = KafkaProbe(infra.kafka_bootstrap)
    await probe.producer.start()
    yield probe
    await probe.producer.stop()


@pytest.fixture
def widget_settings(infra: Infra, scratch_db: str, jwks_url: str) -> WidgetSettings:
    return WidgetSettings(
        postgres_host=infra.pg_host,
        postgres_port=infra.pg_port,
        database_name=scratch_db,
        database_pool_size=4,
        kafka_bootstrap=infra.kafka_bootstrap,
        jwks_url=jwks_url,
    )


@pytest.fixture
def tenant() -> uuid.UUID:
    return uuid.uuid4()


@pytest.fixture
def other_tenant() -> uuid.UUID:
    return uuid.uuid4()


async def count_widgets(db: Database, tenant_id: uuid.UUID, name: str | None = None) -> int:
    """How many widgets `tenant_id` has (optionally with `name`), seen under that tenant."""
    async with db.transaction(tenant_id) as session:
        query = "SELECT count(*) FROM widgets"
        params: dict[str, object] = {}
        if name is not None:
            query += " WHERE name = :name"
            params["name"] = name
        return int((await session.execute(text(query), params)).scalar_one())


@pytest.fixture
def widget_count(db: Database) -> Callable[..., Awaitable[int]]:
    """`await widget_count(tenant, name=None)`: the tenant's widgets, through RLS."""

    async def counter(tenant_id: uuid.UUID, name: str | None = None) -> int:
        return await count_widgets(db, tenant_id, name)

    return counter


# --- a small service app, for the web and idempotency tests --------------------------------


class WidgetCreate(BaseModel):
    name: str = Field(min_length=1)
    quantity: int = 1


class WidgetApp:
    """What the test routes share: switches and counters the tests drive."""

    def __init__(self) -> None:
        self.calls: dict[str, int] = {}
        self.release_slow = asyncio.Event()
        self.slow_started = asyncio.Event()

    def count(self, route: str) -> int:
        self.calls[route] = self.calls.get(route, 0) + 1
        return self.calls[route]


async def insert_widget_row(session: AsyncSession, tenant_id: uuid.UUID, name: str) -> uuid.UUID:
    widget_id = uuid.uuid4()
    await session.execute(
        text("INSERT INTO widgets (tenant_id, id, name) VALUES (:t, :id, :name)"),
        {"t": tenant_id, "id": widget_id, "name": name},
    )
    return widget_id


def widget_router(state: WidgetApp) -> APIRouter:
    router = APIRouter()

    @router.post("/widgets", status_code=201)
    async def create_widget(
        body: WidgetCreate, session: TenantSession, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        state.count("create")
        widget_id = await insert_widget_row(session, principal.tenant_id, body.name)
        return {"id": str(widget_id), "name": body.name, "quantity": body.quantity}

    @router.get("/widgets/{widget_id}")
    async def get_widget(widget_id: uuid.UUID, session: TenantSession) -> dict[str, Any]:
        row = (
            await session.execute(
                text("SELECT id, name FROM widgets WHERE id = :id"), {"id": widget_id}
            )
        ).first()
        if row is None:
            raise NotFound("no such widget")
        return {"id": str(row.id), "name": row.name}

    @router.post("/widgets/conflicting", status_code=201)
    async def insert_then_conflict(
        body: WidgetCreate, session: TenantSession, principal: CurrentPrincipal
    ) -> None:
        await insert_widget_row(session, principal.tenant_id, body.name)
        raise Conflict("a widget with this name already exists")

    @router.post("/widgets/crashing", status_code=201)
    async def insert_then_crash(
        body: WidgetCreate, session: TenantSession, principal: CurrentPrincipal
    ) -> None:
        await insert_widget_row(session, principal.tenant_id, body.name)
        raise RuntimeError("secret internal detail: password=hunter2")

    @router.post("/widgets/flaky", status_code=201)
    async def fail_first_then_create(
        body: WidgetCreate, session: TenantSession, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        """Fails on its first call (503, or an exception when the name says 'crash')."""
        call = state.count("flaky")
        widget_id = await insert_widget_row(session, principal.tenant_id, body.name)
        if call == 1 and body.name.startswith("crash"):
            raise RuntimeError("first call crashes")
        if call == 1:
            raise ServiceUnavailable("try again")
        return {"id": str(widget_id), "call": call}

    @router.post("/widgets/slow", status_code=201)
    async def create_slowly(
        body: WidgetCreate, session: TenantSession, principal: CurrentPrincipal
    ) -> dict[str, Any]:
        state.slow_started.set()
        await state.release_slow.wait()
        widget_id = await insert_widget_row(session, principal.tenant_id, body.name)
        return {"id": str(widget_id)}

    # Shows a secret once (like a new API key): marked no-store.
    @router.post("/widgets/with-secret", status_code=201)
    async def create_with_secret(
        body: WidgetCreate, session: TenantSession, principal: CurrentPrincipal, response: Response
    ) -> dict[str, Any]:
        state.count("create_with_secret")
        widget_id = await insert_widget_row(session, principal.tenant_id, body.name)
        response.headers["Cache-Control"] = "no-store"
        response.headers["Location"] = f"/widgets/{widget_id}"
        return {"id": str(widget_id), "secret": f"sk_{uuid.uuid4().hex}"}

    # Opts in to restricted tokens (as identity's two-factor enrollment routes do).
    @router.get("/whoami")
    async def whoami(
        principal: CurrentPrincipalEvenRestricted, session: TenantSessionEvenRestricted
    ) -> dict[str, Any]:
        tenant = (await session.execute(text("SELECT current_setting('app.tenant_id')"))).scalar()
        return {
            "user_id": str(principal.user_id),
            "tenant": tenant,
            "restricted": principal.restricted,
        }

    # Only owners hold `roles.write` by default.
    @router.get("/reports/secret", dependencies=[require("roles.write")])
    async def secret_report() -> dict[str, str]:
        return {"report": "numbers"}

    return router


@pytest.fixture
async def widget_app(
    widget_settings: WidgetSettings,
) -> AsyncIterator[tuple[FastAPI, WidgetApp]]:
    state = WidgetApp()
    ctx = ServiceContext("widgets", widget_settings)
    app = create_app(
        ctx, title="widgets", description="test service", routers=[widget_router(state)]
    )
    yield app, state
    await ctx.close()


@pytest.fixture
async def client(widget_app: tuple[FastAPI, WidgetApp]) -> AsyncIterator[httpx.AsyncClient]:
    app, _ = widget_app
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://widgets.test") as c:
        yield c


@pytest.fixture
def app_state(widget_app: tuple[FastAPI, WidgetApp]) -> WidgetApp:
    return widget_app[1]


@pytest.fixture
def bearer(test_keys: TestKeys) -> Callable[..., dict[str, str]]:
    """`bearer(tenant, user=None, **claims)`: Authorization headers for a caller."""

    def headers(
        tenant_id: uuid.UUID, user_id: uuid.UUID | None = None, **claims: Any
    ) -> dict[str, str]:
        claims.setdefault("role", "member")
        token = test_keys.mint(tid=str(tenant_id), sub=str(user_id or uuid.uuid4()), **claims)
        return {"Authorization": f"Bearer {token}"}

    return headers
