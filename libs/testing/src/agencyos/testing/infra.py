"""Where the test run's PostgreSQL and Kafka are (the local stack by default; environment
variables name others), and helpers to make throwaway databases and topics on them."""

from __future__ import annotations

import asyncio
import os
import random
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


async def _drop_database(conn: asyncpg.Connection, name: str, attempts: int = 10) -> None:
    """DROP DATABASE … WITH (FORCE), which ends the sessions still on it. FORCE cannot end an
    autovacuum worker on it (the worker runs as no role, so only a superuser may signal it)
    and fails with a privilege error; a plain DROP DATABASE stops autovacuum workers itself
    (and waits a few seconds for other sessions), so that is the next try."""
    for attempt in range(1, attempts + 1):
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except asyncpg.InsufficientPrivilegeError:
            try:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                return
            except asyncpg.ObjectInUseError:
                if attempt == attempts:
                    raise


@dataclass(frozen=True)
class Infra:
    pg_host: str
    pg_port: int
    owner_user: str
    owner_password: str
    app_user: str
    app_password: str
    kafka_bootstrap: str

    @classmethod
    def from_env(cls) -> Infra:
        env = os.environ.get
        return cls(
            pg_host=env("AGENCYOS_POSTGRES_HOST", "127.0.0.1"),
            pg_port=int(env("AGENCYOS_POSTGRES_PORT", "55432")),
            owner_user=env("AGENCYOS_DATABASE_OWNER_USER", "agencyos_owner"),
            owner_password=env("AGENCYOS_DATABASE_OWNER_PASSWORD", "agencyos_owner"),
            app_user=env("AGENCYOS_DATABASE_APP_USER", "agencyos_app"),
            app_password=env("AGENCYOS_DATABASE_APP_PASSWORD", "agencyos_app"),
            kafka_bootstrap=env("AGENCYOS_KAFKA_BOOTSTRAP", "127.0.0.1:9092"),
        )

    def dsn(self, database: str, *, owner: bool = False, driver: str = "asyncpg") -> str:
        user, password = (
            (self.owner_user, self.owner_password) if owner else (self.app_user, self.app_password)
        )
        scheme = f"postgresql+{driver}" if driver else "postgresql"
        return f"{scheme}://{user}:{password}@{self.pg_host}:{self.pg_port}/{database}"

    async def recreate_database(self, name: str) -> None:
        conn = await asyncpg.connect(
            self.dsn("postgres", owner=True, driver="").replace("postgresql://", "postgres://")
        )
        try:
            await _drop_database(conn, name)
            await conn.execute(f'CREATE DATABASE "{name}" OWNER "{self.owner_user}"')
        finally:
            await conn.close()

    async def drop_database(self, name: str) -> None:
        conn = await asyncpg.connect(
            self.dsn("postgres", owner=True, driver="").replace("postgresql://", "postgres://")
        )
        try:
            await _drop_database(conn, name)
        finally:
            await conn.close()

    async def raw(self, database: str, *, owner: bool = False) -> asyncpg.Connection:
        """A plain asyncpg connection (as the app role unless `owner`)."""
        return await asyncpg.connect(
            self.dsn(database, owner=owner, driver="").replace("postgresql://", "postgres://")
        )

    async def run_operations(self, database: str, body: Callable[[], None]) -> None:
        """Run Alembic `op.*` calls (e.g. the RLS helpers) outside a migration script."""
        engine = create_async_engine(self.dsn(database, owner=True))
        try:
            async with engine.begin() as connection:
                await connection.run_sync(_with_operations, body)
        finally:
            await engine.dispose()

    async def create_topics(self, names: Iterable[str], partitions: int = 1) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka_bootstrap)
        await admin.start()
        try:
            existing = set(await admin.list_topics())
            new = [
                NewTopic(n, num_partitions=partitions, replication_factor=1)
                for n in names
                if n not in existing
            ]
            if new:
                await admin.create_topics(new)
        finally:
            await admin.close()

    async def delete_topics(self, prefix: str) -> None:
        if not prefix:
            return
        admin = AIOKafkaAdminClient(bootstrap_servers=self.kafka_bootstrap)
        await admin.start()
        try:
            doomed = [t for t in await admin.list_topics() if t.startswith(prefix)]
            if doomed:
                await admin.delete_topics(doomed)
        finally:
            await admin.close()


def _with_operations(connection: Connection, body: Callable[[], None]) -> None:
    context = MigrationContext.configure(connection)
    with Operations.context(context):
        body()


# Ports the test run listens on come from below the kernel's ephemeral range (Linux: 32768 and
# up), each test worker from a slice of its own. A port asked of the kernel (`bind(0)`) comes
# from the ephemeral range, and between closing it and a server binding it again, any outgoing
# connection of the run (there are thousands) may be given it: "address already in use".
LISTEN_PORTS = range(20000, 32000)
_handed_out: set[int] = set()


def _worker_slice() -> range:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or "1")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    size = len(LISTEN_PORTS) // max(count, 1)
    start = LISTEN_PORTS.start + index * size
    return range(start, start + size)


def free_port() -> int:
    """A port nothing listens on now, for a server this test worker is about to start: from
    the worker's own slice below the ephemeral range, never the same one twice in a run."""
    ports = _worker_slice()
    for _ in range(len(ports)):
        port = random.choice(ports)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port left in {ports}")


async def wait_for(
    check: Callable[[], object], *, timeout: float = 20.0, interval: float = 0.1
) -> object:
    """Poll `check` (sync or async) until it returns something truthy; fail after timeout."""
    deadline = asyncio.get_running_loop().time() + timeout
    last: object = None
    while True:
        last = check()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
        await asyncio.sleep(interval)
