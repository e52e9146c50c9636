"""SQL the import and export need beyond the clients' own repository."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Collection
from typing import Any

from sqlalchemy import Row, Select, and_, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.crm.models import Client, Contact

# A client and its primary contact's name, email and phone.
ExportSelect = Select[Client, str | None, str | None, str | None]
ExportRow = Row[Client, str | None, str | None, str | None]


class ImportRepository:
    # A batch's lookups lock the clients they find (ordered by id, so two imports lock in
    # the same order): a concurrent import waits, then sees this one's changes. They name the
    # tenant explicitly so the planner uses the (tenant_id, ...) indexes; row-level security
    # adds the same predicate anyway.

    async def clients_by_ids(
        self, session: AsyncSession, tenant_id: uuid.UUID, ids: Collection[uuid.UUID]
    ) -> list[Client]:
        if not ids:
            return []
        stmt = (
            select(Client)
            .where(Client.tenant_id == tenant_id, Client.id.in_(list(ids)))
            .order_by(Client.id)
            .with_for_update()
        )
        return list((await session.execute(stmt)).scalars())

    async def clients_by_external_ids(
        self, session: AsyncSession, tenant_id: uuid.UUID, external_ids: Collection[str]
    ) -> list[Client]:
        if not external_ids:
            return []
        stmt = (
            select(Client)
            .where(Client.tenant_id == tenant_id, Client.external_id.in_(list(external_ids)))
            .order_by(Client.id)
            .with_for_update()
        )
        return list((await session.execute(stmt)).scalars())

    async def clients_by_names(
        self, session: AsyncSession, tenant_id: uuid.UUID, lower_names: Collection[str]
    ) -> list[Client]:
        """Clients whose lower-cased company name is one of `lower_names`, oldest first."""
        if not lower_names:
            return []
        stmt = (
            select(Client)
            .where(
                Client.tenant_id == tenant_id,
                func.lower(Client.company_name).in_(list(lower_names)),
            )
            .order_by(Client.id)
            .with_for_update()
        )
        clients = list((await session.execute(stmt)).scalars())
        return sorted(clients, key=lambda c: (c.created_at, c.id))

    async def contacts_of_clients(
        self, session: AsyncSession, tenant_id: uuid.UUID, client_ids: Collection[uuid.UUID]
    ) -> list[Contact]:
        if not client_ids:
            return []
        stmt = (
            select(Contact)
            .where(Contact.tenant_id == tenant_id, Contact.client_id.in_(list(client_ids)))
            .order_by(Contact.created_at, Contact.id)
        )
        return list((await session.execute(stmt)).scalars())

    def with_primary_contact(self, clients: Select[Any]) -> ExportSelect:
        """`clients` (a filtered, sorted clients query) plus the primary contact's name, email
        and phone (NULLs when the client has none)."""
        stmt: ExportSelect = clients.add_columns(Contact.name, Contact.email, Contact.phone)
        return stmt.outerjoin(
            Contact,
            and_(
                Contact.tenant_id == Client.tenant_id,
                Contact.client_id == Client.id,
                Contact.is_primary,
            ),
        )

    async def stream(
        self, session: AsyncSession, stmt: ExportSelect, *, batch: int = 500
    ) -> AsyncIterator[list[ExportRow]]:
        """Rows in batches from a server-side cursor: never the whole result in memory."""
        result = await session.stream(stmt.execution_options(yield_per=batch))
        async for partition in result.partitions(batch):
            yield list(partition)


import_repository = ImportRepository()
