from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.db import Repository
from agencyos.crm.models import Client, Deal, TimelineEntry

_SORTS: dict[str, Any] = {
    "company_name": func.lower(Client.company_name),
    "created_at": Client.created_at,
    "total_revenue_cents": Client.total_revenue_cents,
    "last_activity_at": Client.last_activity_at,
}


def like_pattern(q: str) -> str:
    """A substring pattern for LIKE with the caller's wildcards taken literally."""
    escaped = q.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class ClientRepository(Repository[Client]):
    model = Client

    def filtered_query(
        self,
        tenant_id: uuid.UUID,
        *,
        q: str | None = None,
        tag: str | None = None,
        industry: str | None = None,
        status: str | None = None,
        owner_id: uuid.UUID | None = None,
        sort: str = "-created_at",
    ) -> Select[Client]:
        """The clients list as a query: filters, then the sort with `id` as tie-breaker.

        `q` matches company names and contacts' names and emails (case-insensitive substring)
        through `crm_search_clients`, which answers from a trigram index (see the migration:
        under row-level security a plain LIKE could not use one)."""
        stmt = select(Client).where(Client.tenant_id == tenant_id)
        if q:
            matches = (
                func.crm_search_clients(like_pattern(q)).table_valued("client_id").render_derived()
            )
            stmt = stmt.where(Client.id.in_(select(matches.c.client_id)))
        if tag:
            stmt = stmt.where(Client.tags.contains([tag]))
        if industry:
            stmt = stmt.where(func.lower(Client.industry) == industry.lower())
        if status:
            stmt = stmt.where(Client.status == status)
        if owner_id:
            stmt = stmt.where(Client.owner_id == owner_id)
        descending = sort.startswith("-")
        column = _SORTS[sort.lstrip("-")]
        order = column.desc().nulls_last() if descending else column.asc().nulls_last()
        tie = Client.id.desc() if descending else Client.id.asc()
        return stmt.order_by(order, tie)

    async def get_for_update(self, session: AsyncSession, client_id: uuid.UUID) -> Client | None:
        stmt = select(Client).where(Client.id == client_id).with_for_update()
        return (await session.execute(stmt)).scalar_one_or_none()

    async def has_history(self, session: AsyncSession, client: Client) -> bool:
        """Deals or timeline entries: what deleting would lose."""
        deals = exists().where(Deal.tenant_id == client.tenant_id, Deal.client_id == client.id)
        entries = exists().where(
            TimelineEntry.tenant_id == client.tenant_id, TimelineEntry.client_id == client.id
        )
        return bool((await session.execute(select(or_(deals, entries)))).scalar())

    async def delete(self, session: AsyncSession, client: Client) -> None:
        await session.delete(client)
        await session.flush()


client_repository = ClientRepository()
