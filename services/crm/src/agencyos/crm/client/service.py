"""Clients: create, read, list with search and filters, update, delete (or archive)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.errors import Conflict, NotFound, field_error
from agencyos.common.events import ClientCreated, ClientDeleted, ClientUpdated
from agencyos.common.outbox import publish
from agencyos.common.pagination import PageParams
from agencyos.common.peers.identity import IdentityClient
from agencyos.crm.client.repository import client_repository
from agencyos.crm.client.schemas import ClientCreate, ClientUpdate
from agencyos.crm.models import Client

SERVICE = "crm"


def _external_id_taken(exc: IntegrityError) -> bool:
    return "uq_clients_external_id" in str(exc.orig)


class ClientService:
    async def _ensure_owner(
        self, principal: Principal, owner_id: uuid.UUID, identity: IdentityClient
    ) -> None:
        if not await identity.is_active_member(principal, owner_id):
            raise field_error("owner_id", "owner_id is not an active member of this agency")

    async def create(
        self,
        session: AsyncSession,
        principal: Principal,
        data: ClientCreate,
        identity: IdentityClient,
    ) -> Client:
        # An API key is not a person: its clients have no owner unless one is named.
        owner_id = data.owner_id or (None if principal.api_key_id else principal.user_id)
        if owner_id is not None:
            await self._ensure_owner(principal, owner_id, identity)
        fields = data.model_dump(exclude={"owner_id", "website", "status"})
        client = Client(
            tenant_id=principal.tenant_id,
            id=uuid.uuid4(),
            status=data.status.value,
            website=str(data.website) if data.website else None,
            owner_id=owner_id,
            created_by=principal.user_id,
            **fields,
        )
        try:
            async with session.begin_nested():
                await client_repository.create(session, client)
        except IntegrityError as exc:
            if _external_id_taken(exc):
                raise Conflict("another client already has this external_id") from exc
            raise
        await session.refresh(client)
        await publish(
            session,
            ClientCreated(
                client_id=client.id,
                company_name=client.company_name,
                status=client.status,
                owner_id=client.owner_id,
                created_by=client.created_by,
            ),
            source_service=SERVICE,
            subject=f"clients/{client.id}",
        )
        return client

    async def get(self, session: AsyncSession, client_id: uuid.UUID) -> Client:
        client = await client_repository.get(session, client_id)
        if client is None:
            raise NotFound("no such client")
        return client

    async def list_clients(
        self,
        session: AsyncSession,
        principal: Principal,
        params: PageParams,
        *,
        q: str | None = None,
        tag: str | None = None,
        industry: str | None = None,
        status: str | None = None,
        owner_id: uuid.UUID | None = None,
        sort: str = "-created_at",
    ) -> tuple[Sequence[Client], int]:
        stmt = client_repository.filtered_query(
            principal.tenant_id,
            q=q,
            tag=tag,
            industry=industry,
            status=status,
            owner_id=owner_id,
            sort=sort,
        )
        return await client_repository.paginate(
            session, stmt, page=params.page, per_page=params.per_page
        )

    async def update(
        self,
        session: AsyncSession,
        principal: Principal,
        client_id: uuid.UUID,
        data: ClientUpdate,
        identity: IdentityClient,
    ) -> Client:
        client = await client_repository.get_for_update(session, client_id)
        if client is None:
            raise NotFound("no such client")
        sent: dict[str, Any] = data.model_dump(exclude_unset=True)
        for required in ("company_name", "status", "tags"):
            if required in sent and sent[required] is None:
                raise field_error(required, f"{required} cannot be null")
        if "website" in sent and sent["website"] is not None:
            sent["website"] = str(sent["website"])
        if "status" in sent:
            sent["status"] = str(sent["status"])
        changes = {k: v for k, v in sent.items() if getattr(client, k) != v}
        if not changes:
            return client
        if changes.get("owner_id") is not None:
            await self._ensure_owner(principal, changes["owner_id"], identity)
        return await self._apply(session, principal, client, changes)

    async def _apply(
        self, session: AsyncSession, principal: Principal, client: Client, changes: dict[str, Any]
    ) -> Client:
        try:
            async with session.begin_nested():
                await client_repository.update(session, client, changes)
        except IntegrityError as exc:
            if _external_id_taken(exc):
                raise Conflict("another client already has this external_id") from exc
            raise
        await session.refresh(client)
        await publish(
            session,
            ClientUpdated(
                client_id=client.id,
                changed_fields=sorted(changes),
                company_name=client.company_name,
                status=client.status,
                owner_id=client.owner_id,
                currency=client.currency,
                updated_by=principal.user_id,
            ),
            source_service=SERVICE,
            subject=f"clients/{client.id}",
        )
        return client

    async def delete(
        self, session: AsyncSession, principal: Principal, client_id: uuid.UUID
    ) -> Client | None:
        """Delete a client with no history; archive one with deals or timeline entries (and
        answer it). None when it was deleted."""
        client = await client_repository.get_for_update(session, client_id)
        if client is None:
            raise NotFound("no such client")
        if await client_repository.has_history(session, client):
            if client.status != "archived":
                status_before = client.status
                await self._apply(session, principal, client, {"status": "archived"})
                await record_audit(
                    session,
                    action="client.archived",
                    entity_type="client",
                    entity_id=client.id,
                    actor=principal,
                    source_service=SERVICE,
                    before={"status": status_before},
                    after={"status": "archived"},
                    detail={"company_name": client.company_name, "asked": "delete"},
                )
            return client
        await client_repository.delete(session, client)
        await record_audit(
            session,
            action="client.deleted",
            entity_type="client",
            entity_id=client_id,
            actor=principal,
            source_service=SERVICE,
            before={"company_name": client.company_name, "status": client.status},
        )
        await publish(
            session,
            ClientDeleted(client_id=client_id, deleted_by=principal.user_id),
            source_service=SERVICE,
            subject=f"clients/{client_id}",
        )
        return None


client_service = ClientService()
