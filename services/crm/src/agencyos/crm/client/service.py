"""Client rules. Services never commit: the edge owns the transaction."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.auth import Principal
from agencyos.common.errors import InvalidInput, NotFound
from agencyos.common.events import ClientCreated
from agencyos.common.outbox import publish
from agencyos.common.pagination import PageParams
from agencyos.crm.client.repository import client_repository
from agencyos.crm.client.schemas import ClientCreate
from agencyos.crm.members import MemberDirectory
from agencyos.crm.models import Client

SERVICE = "crm"


class ClientService:
    async def create(
        self,
        session: AsyncSession,
        principal: Principal,
        data: ClientCreate,
        members: MemberDirectory,
    ) -> Client:
        # An API key is not a person: its clients have no owner unless one is named.
        owner_id = data.owner_id or (None if principal.api_key_id else principal.user_id)
        if owner_id is not None and not await members.is_active_member(principal, owner_id):
            raise InvalidInput(
                "owner_id is not an active member of this agency",
                errors=[{"field": "owner_id", "message": "not an active member"}],
            )
        client = Client(
            tenant_id=principal.tenant_id,
            id=uuid.uuid4(),
            company_name=data.company_name,
            status=data.status.value,
            industry=data.industry,
            website=str(data.website) if data.website else None,
            notes=data.notes,
            currency=data.currency,
            owner_id=owner_id,
            created_by=principal.user_id,
        )
        await client_repository.create(session, client)
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
        self, session: AsyncSession, params: PageParams, *, status: str | None = None
    ) -> tuple[Sequence[Client], int]:
        return await client_repository.paginate(
            session,
            client_repository.list_query(status=status),
            page=params.page,
            per_page=params.per_page,
        )


client_service = ClientService()
