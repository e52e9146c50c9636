"""Tenancy (ARCHITECTURE.md §3) against the real PostgreSQL, as the application role:
row-level security, transaction-local tenant settings and a role that owns nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from agencyos.common.db import (
    Database,
    Repository,
    TenantScoped,
    current_tenant,
    new_metadata,
)
from agencyos.testing.infra import Infra


class Base(DeclarativeBase):
    metadata = new_metadata()


class Widget(TenantScoped, Base):
    __tablename__ = "widgets"
    name: Mapped[str] = mapped_column()


class WidgetRepository(Repository[Widget]):
    model = Widget


widgets = WidgetRepository()


async def add_widgets(db: Database, tenant_id: uuid.UUID, *names: str) -> list[uuid.UUID]:
    ids = [uuid.uuid4() for _ in names]
    async with db.transaction(tenant_id) as session:
        for widget_id, name in zip(ids, names, strict=True):
            await widgets.create(session, Widget(tenant_id=tenant_id, id=widget_id, name=name))
    return ids


async def select_widgets_with_row_security_off(db: Database) -> list[Any]:
    async with db.transaction(None) as session:
        await session.execute(text("SET LOCAL row_security = off"))
        return list((await session.execute(text("SELECT * FROM widgets"))).all())


@pytest.fixture
async def two_agencies(
    db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
) -> tuple[uuid.UUID, uuid.UUID]:
    """Agency `tenant` has widgets a1, a2; agency `other_tenant` has b1."""
    await add_widgets(db, tenant, "a1", "a2")
    await add_widgets(db, other_tenant, "b1")
    return tenant, other_tenant


@pytest.fixture
async def single_connection_db(infra: Infra, scratch_db: str) -> AsyncIterator[Database]:
    """A pool of one connection, so consecutive transactions reuse it (checked by pid)."""
    database = Database(infra.dsn(scratch_db), pool_size=1)
    yield database
    await database.dispose()


class TestRowLevelSecurity:
    async def test_with_no_tenant_set_a_raw_select_sees_no_rows_although_rows_exist(
        self, db: Database, two_agencies: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        tenant_a, _ = two_agencies
        async with db.transaction(tenant_a) as session:
            assert (await session.execute(text("SELECT count(*) FROM widgets"))).scalar() == 2

        async with db.transaction(None) as session:
            rows = (await session.execute(text("SELECT * FROM widgets"))).all()

        assert rows == []

    async def test_a_tenant_sees_only_its_own_rows(
        self, db: Database, two_agencies: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        tenant_a, _ = two_agencies

        async with db.transaction(tenant_a) as session:
            rows = (await session.execute(text("SELECT tenant_id, name FROM widgets"))).all()

        assert sorted(rows) == [(tenant_a, "a1"), (tenant_a, "a2")]

    async def test_a_tenant_cannot_fetch_another_tenants_row_by_id(
        self, db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        [foreign_id] = await add_widgets(db, other_tenant, "theirs")

        async with db.transaction(tenant) as session:
            found = await widgets.get(session, foreign_id)

        assert found is None

    async def test_inserting_a_row_for_another_tenant_is_rejected_by_the_policy(
        self, db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        with pytest.raises(DBAPIError, match="row-level security policy"):
            async with db.transaction(tenant) as session:
                await session.execute(
                    text("INSERT INTO widgets (tenant_id, id, name) VALUES (:t, :id, 'smuggled')"),
                    {"t": other_tenant, "id": uuid.uuid4()},
                )

        async with db.transaction(other_tenant) as session:
            smuggled = (await session.execute(text("SELECT count(*) FROM widgets"))).scalar()
        assert smuggled == 0

    async def test_moving_a_row_to_another_tenant_is_rejected_by_the_policy(
        self, db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        [widget_id] = await add_widgets(db, tenant, "mine")

        with pytest.raises(DBAPIError, match="row-level security policy"):
            async with db.transaction(tenant) as session:
                await session.execute(
                    text("UPDATE widgets SET tenant_id = :other WHERE id = :id"),
                    {"other": other_tenant, "id": widget_id},
                )

    async def test_inserting_with_no_tenant_set_is_rejected_by_the_policy(
        self, db: Database, tenant: uuid.UUID
    ) -> None:
        with pytest.raises(DBAPIError, match="row-level security policy"):
            async with db.transaction(None) as session:
                await session.execute(
                    text("INSERT INTO widgets (tenant_id, id, name) VALUES (:t, :id, 'orphan')"),
                    {"t": tenant, "id": uuid.uuid4()},
                )

    async def test_rls_is_forced_so_even_the_owning_role_sees_no_rows_without_a_tenant(
        self, owner_db: Database, two_agencies: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        tenant_a, _ = two_agencies
        async with owner_db.transaction(None) as session:
            unscoped = (await session.execute(text("SELECT count(*) FROM widgets"))).scalar()
        async with owner_db.transaction(tenant_a) as session:
            scoped = (await session.execute(text("SELECT count(*) FROM widgets"))).scalar()

        assert (unscoped, scoped) == (0, 2)


class TestTransactionLocalTenant:
    async def test_the_tenant_set_in_one_transaction_is_gone_in_the_next_on_the_same_connection(
        self, single_connection_db: Database, tenant: uuid.UUID
    ) -> None:
        await add_widgets(single_connection_db, tenant, "w")
        async with single_connection_db.transaction(tenant) as session:
            first_backend = (await session.execute(text("SELECT pg_backend_pid()"))).scalar()
            assert await current_tenant(session) == tenant

        async with single_connection_db.transaction(None) as session:
            second_backend = (await session.execute(text("SELECT pg_backend_pid()"))).scalar()
            leftover = await current_tenant(session)
            visible = (await session.execute(text("SELECT count(*) FROM widgets"))).scalar()

        assert second_backend == first_backend
        assert leftover is None
        assert visible == 0

    async def test_the_tenant_of_a_rolled_back_transaction_is_gone_too(
        self, single_connection_db: Database, tenant: uuid.UUID
    ) -> None:
        with pytest.raises(RuntimeError):
            async with single_connection_db.transaction(tenant):
                raise RuntimeError("handler failed")

        async with single_connection_db.transaction(None) as session:
            assert await current_tenant(session) is None


class TestApplicationRolePrivileges:
    async def test_it_cannot_drop_a_table(self, db: Database) -> None:
        with pytest.raises(DBAPIError, match="must be owner"):
            async with db.transaction(None) as session:
                await session.execute(text("DROP TABLE widgets"))

    async def test_it_cannot_disable_row_level_security(self, db: Database) -> None:
        with pytest.raises(DBAPIError, match="must be owner"):
            async with db.transaction(None) as session:
                await session.execute(text("ALTER TABLE widgets DISABLE ROW LEVEL SECURITY"))

    async def test_it_cannot_drop_the_tenant_policy(self, db: Database) -> None:
        with pytest.raises(DBAPIError, match="must be owner"):
            async with db.transaction(None) as session:
                await session.execute(text("DROP POLICY tenant_isolation ON widgets"))

    async def test_it_cannot_create_tables(self, db: Database) -> None:
        with pytest.raises(DBAPIError, match="permission denied"):
            async with db.transaction(None) as session:
                await session.execute(text("CREATE TABLE sneaky (id int)"))

    async def test_turning_row_security_off_makes_the_query_fail_instead_of_bypassing_rls(
        self, db: Database, two_agencies: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        # PostgreSQL lets any role SET row_security = off, but then refuses every query
        # that RLS would filter rather than showing unfiltered rows.
        with pytest.raises(DBAPIError, match="would be affected by row-level security"):
            await select_widgets_with_row_security_off(db)


class TestRepositoryPagination:
    async def test_paginate_counts_and_pages_only_the_tenants_rows(
        self, db: Database, tenant: uuid.UUID, other_tenant: uuid.UUID
    ) -> None:
        await add_widgets(db, tenant, "w1", "w2", "w3", "w4", "w5")
        await add_widgets(db, other_tenant, "x1", "x2", "x3")

        async with db.transaction(tenant) as session:
            page, total = await widgets.paginate(
                session, select(Widget).order_by(Widget.name), page=2, per_page=2
            )

        assert total == 5
        assert [w.name for w in page] == ["w3", "w4"]

    async def test_paginate_past_the_last_page_returns_no_items_and_the_total(
        self, db: Database, tenant: uuid.UUID
    ) -> None:
        await add_widgets(db, tenant, "only")

        async with db.transaction(tenant) as session:
            page, total = await widgets.paginate(
                session, select(Widget).order_by(Widget.name), page=3, per_page=10
            )

        assert (list(page), total) == ([], 1)

    async def test_paginate_with_no_tenant_set_returns_nothing(
        self, db: Database, two_agencies: tuple[uuid.UUID, uuid.UUID]
    ) -> None:
        async with db.transaction(None) as session:
            page, total = await widgets.paginate(session, select(Widget), page=1, per_page=50)

        assert (list(page), total) == ([], 0)
