"""Databases for the in-process tier: each service's migrations run once into a template
database, and every test worker clones its own database from that template (a file copy in
PostgreSQL, milliseconds) instead of migrating again.

A template is named by a digest of the service's migrations, so it is kept between runs and
made again only when a migration changes; building one is serialised across test workers (and
concurrent runs) by a PostgreSQL advisory lock, and templates of older digests are dropped.
"""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg

from agencyos.common.migrations import upgrade_head
from agencyos.testing.infra import Infra, _drop_database
from agencyos.testing.platform import REPO_ROOT

# pg_advisory_lock key of "building a template" (any fixed 64-bit number, ours alone).
TEMPLATE_LOCK = 0x4147_4E43_5954_504C
TEMPLATE_PREFIX = "agencyos_tpl_"
# What a template depends on besides the service's own migrations.
SHARED_MIGRATION_CODE = (
    REPO_ROOT / "libs/common/src/agencyos/common/migrations.py",
    REPO_ROOT / "libs/common/src/agencyos/common/db.py",
)


def service_dir(service: str) -> Path:
    return REPO_ROOT / "services" / service


def migrations_digest(service: str) -> str:
    digest = hashlib.sha256()
    files = sorted((service_dir(service) / "migrations").rglob("*.py"))
    for path in [*files, *SHARED_MIGRATION_CODE]:
        digest.update(path.relative_to(REPO_ROOT).as_posix().encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def template_name(service: str) -> str:
    return f"{TEMPLATE_PREFIX}{service}_{migrations_digest(service)}"


@dataclass
class TestDatabases:
    """The databases one test worker made: cloned from templates, dropped by `close()`."""

    __test__ = False  # not a pytest test class

    infra: Infra
    prefix: str = field(default_factory=lambda: f"agencyos_ip_{uuid.uuid4().hex[:8]}_")
    made: list[str] = field(default_factory=list)

    async def _admin(self) -> asyncpg.Connection:
        return await self.infra.raw("postgres", owner=True)

    async def template(self, service: str) -> str:
        """The migrated template of `service`, built now if no run has built it yet."""
        name = template_name(service)
        conn = await self._admin()
        try:
            await conn.execute("SELECT pg_advisory_lock($1)", TEMPLATE_LOCK)
            try:
                existing = {
                    r["datname"]
                    for r in await conn.fetch(
                        "SELECT datname FROM pg_database WHERE datname LIKE $1",
                        f"{TEMPLATE_PREFIX}{service}_%",
                    )
                }
                if name not in existing:
                    await self._build(conn, service, name)
                for stale in existing - {name}:
                    await _drop_database(conn, stale)
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", TEMPLATE_LOCK)
        finally:
            await conn.close()
        return name

    async def _build(self, conn: asyncpg.Connection, service: str, name: str) -> None:
        # Migrated under a working name and renamed when complete, so a run that dies midway
        # never leaves a half-migrated template behind under the real name.
        building = f"{name}_building"
        await _drop_database(conn, building)
        await conn.execute(f'CREATE DATABASE "{building}" OWNER "{self.infra.owner_user}"')
        await asyncio.to_thread(
            upgrade_head,
            service_dir(service),
            self.infra.dsn(building, owner=True),
            self.infra.app_user,
        )
        await conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')

    async def clone(self, service: str) -> str:
        """A database of this worker's own for `service`, migrated to head."""
        template = await self.template(service)
        name = f"{self.prefix}{service}"
        conn = await self._admin()
        try:
            await _drop_database(conn, name)
            await conn.execute(
                f'CREATE DATABASE "{name}" TEMPLATE "{template}" OWNER "{self.infra.owner_user}"'
            )
        finally:
            await conn.close()
        self.made.append(name)
        return name

    async def close(self) -> None:
        conn = await self._admin()
        try:
            for name in self.made:
                await _drop_database(conn, name)
        finally:
            await conn.close()


async def test_tables(infra: Infra, database: str) -> list[str]:
    """Every table of `database` but Alembic's: what a test may fill and what `truncate`
    empties after it. No migration of ours seeds rows (a fresh template holds none), so
    emptying them all returns the database to its template state."""
    conn = await infra.raw(database, owner=True)
    try:
        return [
            r["tablename"]
            for r in await conn.fetch(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version' ORDER BY tablename"
            )
        ]
    finally:
        await conn.close()


async def truncate(conn: asyncpg.Connection, tables: list[str]) -> None:
    """Empty those of `tables` that were written since they were last emptied. A table's
    file is empty (0 bytes) after TRUNCATE and grows with the first row written (even one
    rolled back), so its size tells, whatever row-level security would show; emptying only
    those keeps the per-test cost to the tables a test touched."""
    if not tables:
        return
    written = [
        r["relname"]
        for r in await conn.fetch(
            "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = 'public' AND c.relname = ANY($1::text[]) "
            "AND pg_relation_size(c.oid) > 0",
            tables,
        )
    ]
    if written:
        await conn.execute(
            "TRUNCATE " + ", ".join(f'"{t}"' for t in written) + " RESTART IDENTITY CASCADE"
        )
