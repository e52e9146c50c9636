"""SQLAlchemy 2 async on asyncpg, and the tenancy rule (ARCHITECTURE.md §3) in one place.

Every unit of work is one transaction opened by an edge (request, gRPC call, event handler)
through `Database.transaction`, which sets `app.tenant_id` transaction-locally. Row-level
security does the rest: with no tenant set, a tenant table shows no rows.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from sqlalchemy import DateTime, MetaData, Select, func, select, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agencyos.common.tracing import trace_statements

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

TENANT_SETTING = "app.tenant_id"
USER_SETTING = "app.user_id"
RELAY_SETTING = "app.outbox_relay"


def new_metadata() -> MetaData:
    """Each service declares its own `Base` over one of these (one database per service)."""
    return MetaData(naming_convention=NAMING_CONVENTION)


def utcnow() -> datetime:
    return datetime.now(UTC)


class TenantScoped:
    """Mixin for tenant-owned tables: composite primary key `(tenant_id, id)`."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)


class Timestamped:
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow
    )
    updated_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=func.now(), default=utcnow, onupdate=utcnow
    )


# Opens one short transaction each time it is called (`async with transactions() as s:`), for
# work that must not hold one transaction throughout (a saga across services or Stripe).
Transactions = Callable[[], AbstractAsyncContextManager[AsyncSession]]


def pgbouncer_connect_args() -> dict[str, Any]:
    """asyncpg behind PgBouncer in transaction mode: every transaction may run on another server
    connection, so no statement is kept prepared across transactions (neither asyncpg's cache
    nor SQLAlchemy's), and each statement's name is unique, never asyncpg's per-connection
    counter that two clients sharing one server connection would both use."""
    return {
        "statement_cache_size": 0,
        "prepared_statement_cache_size": 0,
        "prepared_statement_name_func": lambda: f"__agencyos_{uuid.uuid4().hex}__",
    }


class Database:
    """An engine and a session factory for one service database (as the application role)."""

    def __init__(
        self, url: str, *, pool_size: int = 10, pgbouncer: bool = False, echo: bool = False
    ) -> None:
        self.engine: AsyncEngine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_pre_ping=True,
            echo=echo,
            connect_args=pgbouncer_connect_args() if pgbouncer else {},
        )
        trace_statements(self.engine)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @asynccontextmanager
    async def transaction(
        self,
        tenant_id: uuid.UUID | None,
        *,
        user_id: uuid.UUID | None = None,
        settings: dict[str, str] | None = None,
    ) -> AsyncIterator[AsyncSession]:
        """One transaction, committed when the block ends cleanly, rolled back otherwise."""
        async with self.sessionmaker() as session, session.begin():
            values: dict[str, str] = dict(settings or {})
            if tenant_id is not None:
                values[TENANT_SETTING] = str(tenant_id)
            if user_id is not None:
                values[USER_SETTING] = str(user_id)
            await set_local(session, values)
            yield session

    async def ping(self) -> None:
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def dispose(self) -> None:
        await self.engine.dispose()


async def set_local(session: AsyncSession, values: dict[str, str]) -> None:
    """Set transaction-local settings (`set_config(name, value, true)`): safe under pooling."""
    if not values:
        return
    # One round trip for all of them (a transaction sets the tenant and the user at least).
    calls = ", ".join(f"set_config(:name{i}, :value{i}, true)" for i in range(len(values)))
    params: dict[str, str] = {}
    for i, (name, value) in enumerate(values.items()):
        params[f"name{i}"], params[f"value{i}"] = name, value
    await session.execute(text(f"SELECT {calls}"), params)


async def current_tenant(session: AsyncSession) -> uuid.UUID | None:
    raw = (
        await session.execute(text(f"SELECT current_setting('{TENANT_SETTING}', true)"))
    ).scalar()
    return uuid.UUID(raw) if raw else None


M = TypeVar("M", bound=DeclarativeBase)


class Repository(Generic[M]):
    """Generic SQL every aggregate needs; a repository subclass adds its own queries.

    Queries never filter by tenant themselves: row-level security does, so a forgotten
    filter cannot leak another agency's rows.
    """

    model: type[M]

    async def get(self, session: AsyncSession, entity_id: uuid.UUID) -> M | None:
        stmt = select(self.model).where(self.model.id == entity_id)  # type: ignore[attr-defined]
        return (await session.execute(stmt)).scalar_one_or_none()

    async def create(self, session: AsyncSession, entity: M) -> M:
        session.add(entity)
        await session.flush()
        return entity

    async def update(self, session: AsyncSession, entity: M, changes: dict[str, Any]) -> M:
        for field, value in changes.items():
            setattr(entity, field, value)
        await session.flush()
        return entity

    async def paginate(
        self, session: AsyncSession, stmt: Select[Any], *, page: int, per_page: int
    ) -> tuple[Sequence[M], int]:
        total = (
            await session.execute(select(func.count()).select_from(stmt.order_by(None).subquery()))
        ).scalar_one()
        rows = (await session.execute(stmt.limit(per_page).offset((page - 1) * per_page))).scalars()
        return rows.all(), int(total)
