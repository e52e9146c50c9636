"""SQL for a client's contacts."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.crm.models import Contact


class ContactRepository:
    async def of_client(self, session: AsyncSession, client_id: uuid.UUID) -> Sequence[Contact]:
        stmt = (
            select(Contact)
            .where(Contact.client_id == client_id)
            .order_by(Contact.is_primary.desc(), Contact.created_at, Contact.id)
        )
        return list((await session.execute(stmt)).scalars())

    async def get(
        self, session: AsyncSession, client_id: uuid.UUID, contact_id: uuid.UUID
    ) -> Contact | None:
        stmt = select(Contact).where(Contact.client_id == client_id, Contact.id == contact_id)
        return (await session.execute(stmt)).scalar_one_or_none()

    async def clear_primary(self, session: AsyncSession, client_id: uuid.UUID) -> None:
        await session.execute(
            update(Contact)
            .where(Contact.client_id == client_id, Contact.is_primary)
            .values(is_primary=False)
            .execution_options(synchronize_session="fetch")
        )
        await session.flush()


contact_repository = ContactRepository()
