from __future__ import annotations

from sqlalchemy import Select, select

from agencyos.common.db import Repository
from agencyos.crm.models import Client


class ClientRepository(Repository[Client]):
    model = Client

    def list_query(self, *, status: str | None = None) -> Select[Client]:
        stmt = select(Client).order_by(Client.created_at.desc(), Client.id)
        if status is not None:
            stmt = stmt.where(Client.status == status)
        return stmt


client_repository = ClientRepository()
