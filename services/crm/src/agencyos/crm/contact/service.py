"""Contacts of a client. A client with contacts has exactly one primary contact: the first
becomes primary, naming another primary moves it, deleting the primary promotes the oldest
remaining one. Every change locks the client row first, so concurrent changes take turns."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import utcnow
from agencyos.common.errors import Conflict, NotFound
from agencyos.crm.client.repository import client_repository
from agencyos.crm.contact.repository import contact_repository
from agencyos.crm.contact.schemas import ContactCreate, ContactUpdate
from agencyos.crm.models import Client, Contact

SERVICE = "crm"


class ContactService:
    async def _client(
        self, session: AsyncSession, client_id: uuid.UUID, *, lock: bool = False
    ) -> Client:
        if lock:
            client = await client_repository.get_for_update(session, client_id)
        else:
            client = await client_repository.get(session, client_id)
        if client is None:
            raise NotFound("no such client")
        return client

    async def list_contacts(self, session: AsyncSession, client_id: uuid.UUID) -> Sequence[Contact]:
        await self._client(session, client_id)
        return await contact_repository.of_client(session, client_id)

    async def get(
        self, session: AsyncSession, client_id: uuid.UUID, contact_id: uuid.UUID
    ) -> Contact:
        await self._client(session, client_id)
        contact = await contact_repository.get(session, client_id, contact_id)
        if contact is None:
            raise NotFound("no such contact")
        return contact

    async def create(
        self,
        session: AsyncSession,
        principal: Principal,
        client_id: uuid.UUID,
        data: ContactCreate,
    ) -> Contact:
        await self._client(session, client_id, lock=True)
        existing = await contact_repository.of_client(session, client_id)
        primary = data.is_primary or not existing
        if primary and existing:
            await contact_repository.clear_primary(session, client_id)
        contact = Contact(
            tenant_id=principal.tenant_id,
            id=uuid.uuid4(),
            client_id=client_id,
            name=data.name,
            email=str(data.email).lower() if data.email else None,
            phone=data.phone,
            title=data.title,
            is_primary=primary,
        )
        session.add(contact)
        await session.flush()
        return contact

    async def update(
        self,
        session: AsyncSession,
        client_id: uuid.UUID,
        contact_id: uuid.UUID,
        data: ContactUpdate,
    ) -> Contact:
        await self._client(session, client_id, lock=True)
        contact = await contact_repository.get(session, client_id, contact_id)
        if contact is None:
            raise NotFound("no such contact")
        changes = data.model_dump(exclude_unset=True)
        if changes.get("name", "") is None:
            changes.pop("name")
        if "email" in changes and changes["email"] is not None:
            changes["email"] = str(changes["email"]).lower()
        make_primary = changes.pop("is_primary", None)
        if make_primary is False and contact.is_primary:
            raise Conflict("a client keeps one primary contact: make another contact primary")
        if make_primary and not contact.is_primary:
            await contact_repository.clear_primary(session, client_id)
            contact.is_primary = True
        for field, value in changes.items():
            setattr(contact, field, value)
        contact.updated_at = utcnow()
        await session.flush()
        return contact

    async def delete(
        self,
        session: AsyncSession,
        principal: Principal,
        client_id: uuid.UUID,
        contact_id: uuid.UUID,
    ) -> None:
        await self._client(session, client_id, lock=True)
        contact = await contact_repository.get(session, client_id, contact_id)
        if contact is None:
            raise NotFound("no such contact")
        was_primary = contact.is_primary
        await session.delete(contact)
        await session.flush()
        await record_audit(
            session,
            action="contact.deleted",
            entity_type="contact",
            entity_id=contact_id,
            actor=principal,
            source_service=SERVICE,
            before={"name": contact.name, "email": contact.email, "is_primary": was_primary},
            detail={"client_id": str(client_id)},
        )
        if was_primary:
            remaining = await contact_repository.of_client(session, client_id)
            if remaining:
                oldest = min(remaining, key=lambda c: (c.created_at, c.id))
                oldest.is_primary = True
                await session.flush()


contact_service = ContactService()
