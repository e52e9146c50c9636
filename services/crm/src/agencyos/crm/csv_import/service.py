"""Client CSV import and export. Services never commit: the edge (the request, the import
runner's batch transaction) owns the transaction."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from agencyos.common.audit import record_audit
from agencyos.common.auth import Principal
from agencyos.common.db import Database
from agencyos.common.errors import PayloadTooLarge
from agencyos.common.events import ClientCreated
from agencyos.common.outbox import publish
from agencyos.common.zones import rfc3339_utc
from agencyos.crm.client.repository import client_repository
from agencyos.crm.csv_import.repository import ExportRow, import_repository
from agencyos.crm.csv_import.rows import (
    EXPORT_COLUMNS,
    MAX_FILE_BYTES,
    TAG_SEPARATOR,
    ClientRow,
    ContactRow,
    RawRow,
    decode,
    guard,
    parse,
    validate,
)
from agencyos.crm.job.repository import job_repository
from agencyos.crm.models import Client, Contact, Job

SERVICE = "crm"
JOB_KIND = "client_import"
# unique_violation, deadlock_detected, serialization_failure
TRANSIENT_SQLSTATES = frozenset({"23505", "40P01", "40001"})


@dataclass(frozen=True)
class ImportInput:
    """What the runner needs besides the job row: the file, and whom new clients belong to
    (stored as the job's `input`)."""

    csv_text: str
    owner_id: uuid.UUID | None

    def dump(self) -> str:
        owner = str(self.owner_id) if self.owner_id else None
        return json.dumps({"owner_id": owner, "csv": self.csv_text}, ensure_ascii=False)

    @classmethod
    def load(cls, raw: str) -> ImportInput:
        data = json.loads(raw)
        owner = data.get("owner_id")
        return cls(csv_text=data["csv"], owner_id=uuid.UUID(owner) if owner else None)


@dataclass
class BatchOutcome:
    created: int = 0
    updated: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ExportFilters:
    q: str | None = None
    tag: str | None = None
    industry: str | None = None
    status: str | None = None
    owner_id: uuid.UUID | None = None
    sort: str = "-created_at"


class ImportService:
    async def enqueue(self, session: AsyncSession, principal: Principal, raw: bytes) -> Job:
        """Check the file's shape (encoding, header, row count) now, so a wrong file is a
        422 at once; the rows are validated and imported by the runner."""
        if len(raw) > MAX_FILE_BYTES:
            raise PayloadTooLarge(f"the file is larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        text = decode(raw)
        parsed = await asyncio.to_thread(parse, text)
        # An API key is not a person: the clients it imports have no owner.
        owner_id = None if principal.api_key_id else principal.user_id
        job = Job(
            tenant_id=principal.tenant_id,
            id=uuid.uuid4(),
            kind=JOB_KIND,
            status="queued",
            input=ImportInput(text, owner_id).dump(),
            total=len(parsed.rows),
            created_by=principal.user_id,
        )
        return await job_repository.create(session, job)

    async def import_rows(
        self,
        session: AsyncSession,
        tenant_id: uuid.UUID,
        rows: list[RawRow],
        *,
        owner_id: uuid.UUID | None,
        created_by: uuid.UUID,
    ) -> BatchOutcome:
        """Validate and import a batch of rows; a bad row is skipped and reported, never
        half-written. The clients the batch is about are looked up (and locked) at once, then
        written in bulk: a few round trips per batch instead of several per row.

        A concurrent import of the same clients makes the flush fail with a unique violation
        (or a deadlock): the caller rolls the batch back and runs it again (see
        `is_transient_conflict`), and then finds and updates what the other import created."""
        outcome = BatchOutcome()
        valid: list[ClientRow] = []
        for raw in rows:
            row, problems = validate(raw)
            if row is None:
                outcome.errors.extend(problems)
            else:
                valid.append(row)
        index = await _ClientIndex.load(session, tenant_id, valid)
        created: list[Client] = []
        new_contacts: list[Contact] = []
        for row in valid:
            client = index.match(row)
            if client is None:
                client = Client(
                    tenant_id=tenant_id,
                    id=uuid.uuid4(),
                    company_name=row.company_name,
                    status=row.status or "lead",
                    industry=row.industry,
                    website=row.website,
                    tags=row.tags or [],
                    notes=row.notes,
                    external_id=row.external_id,
                    owner_id=owner_id,
                    created_by=created_by,
                )
                session.add(client)
                index.add(client)
                created.append(client)
                outcome.created += 1
            else:
                if index.external_id_taken(row, client):
                    outcome.errors.append(
                        {
                            "row": row.number,
                            "field": "external_id",
                            "message": "already used by another client",
                        }
                    )
                    continue
                index.update(client, row)
                outcome.updated += 1
            if row.contact is not None:
                contact = index.upsert_contact(client, row.contact)
                if contact is not None:
                    new_contacts.append(contact)
        # Clients first: contacts reference them (the models have no relationship to order by).
        await session.flush()
        session.add_all(new_contacts)
        await session.flush()
        for client in created:
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
                tenant_id=tenant_id,
            )
        outcome.errors.sort(key=lambda error: int(error["row"]))
        return outcome

    async def record_export(
        self, session: AsyncSession, principal: Principal, filters: ExportFilters
    ) -> None:
        """Record in the audit log that `principal` exported the clients `filters` pick (in
        the request's transaction, committed before the file is streamed)."""
        chosen = {k: v for k, v in asdict(filters).items() if v is not None}
        sort = chosen.pop("sort")
        await record_audit(
            session,
            action="clients.exported",
            entity_type="client",
            entity_id=None,
            actor=principal,
            source_service=SERVICE,
            detail={"format": "csv", "filters": chosen, "sort": sort},
        )

    async def export_csv(
        self, db: Database, principal: Principal, filters: ExportFilters
    ) -> AsyncIterator[str]:
        """The filtered clients as CSV text, in chunks, read through a server-side cursor in
        a transaction of its own (the response streams after the request's has ended)."""
        stmt = import_repository.with_primary_contact(
            client_repository.filtered_query(
                principal.tenant_id,
                q=filters.q,
                tag=filters.tag,
                industry=filters.industry,
                status=filters.status,
                owner_id=filters.owner_id,
                sort=filters.sort,
            )
        )
        yield _csv_lines([list(EXPORT_COLUMNS)])
        async with db.transaction(principal.tenant_id, user_id=principal.user_id) as session:
            async for batch in import_repository.stream(session, stmt):
                yield _csv_lines([_export_cells(row) for row in batch])


class _ClientIndex:
    """The clients (and their contacts) a batch is about, looked up once, kept current as
    the batch creates and changes them, so later rows see earlier ones."""

    def __init__(self) -> None:
        self.by_id: dict[uuid.UUID, Client] = {}
        self.by_external_id: dict[str, Client] = {}
        self.by_name: dict[str, list[Client]] = {}
        self.contacts: dict[uuid.UUID, list[Contact]] = {}

    @classmethod
    async def load(
        cls, session: AsyncSession, tenant_id: uuid.UUID, rows: list[ClientRow]
    ) -> _ClientIndex:
        index = cls()
        ids = {r.client_id for r in rows if r.client_id is not None}
        external_ids = {r.external_id for r in rows if r.external_id}
        names = {r.company_name.lower() for r in rows if not r.external_id}
        repo = import_repository
        found = [
            *await repo.clients_by_ids(session, tenant_id, ids),
            *await repo.clients_by_external_ids(session, tenant_id, external_ids),
            *await repo.clients_by_names(session, tenant_id, names),
        ]
        for client in sorted(found, key=lambda c: (c.created_at, c.id)):
            index.add(client)
        for contact in await repo.contacts_of_clients(session, tenant_id, set(index.by_id)):
            index.contacts[contact.client_id].append(contact)
        return index

    def add(self, client: Client) -> None:
        if client.id in self.by_id:
            return
        self.by_id[client.id] = client
        self.contacts[client.id] = []
        if client.external_id:
            self.by_external_id[client.external_id] = client
        self.by_name.setdefault(client.company_name.lower(), []).append(client)

    def match(self, row: ClientRow) -> Client | None:
        """By `id` (a re-imported export), else by external_id, else (no external_id) the
        oldest client with the company name, case-insensitively."""
        if row.client_id is not None and row.client_id in self.by_id:
            return self.by_id[row.client_id]
        if row.external_id:
            return self.by_external_id.get(row.external_id)
        name = row.company_name.lower()
        return next((c for c in self.by_name.get(name, []) if c.company_name.lower() == name), None)

    def external_id_taken(self, row: ClientRow, client: Client) -> bool:
        if not row.external_id:
            return False
        holder = self.by_external_id.get(row.external_id)
        return holder is not None and holder is not client

    def update(self, client: Client, row: ClientRow) -> None:
        """Non-empty cells overwrite; empty cells keep what the client has."""
        if client.company_name != row.company_name:
            client.company_name = row.company_name
            self.by_name.setdefault(row.company_name.lower(), []).append(client)
        for name in ("industry", "website", "tags", "status", "notes"):
            value = getattr(row, name)
            if value is not None and getattr(client, name) != value:
                setattr(client, name, value)
        if row.external_id and client.external_id != row.external_id:
            if client.external_id:
                self.by_external_id.pop(client.external_id, None)
            client.external_id = row.external_id
            self.by_external_id[row.external_id] = client

    def upsert_contact(self, client: Client, row: ContactRow) -> Contact | None:
        """Update the contact with the row's email, else its name; else a new contact
        (answered, to be added), primary when the client has no primary contact yet."""
        contacts = self.contacts[client.id]
        match = None
        if row.email:
            email = row.email.lower()
            match = next((c for c in contacts if (c.email or "").lower() == email), None)
        if match is None:
            name = row.name.lower()
            match = next((c for c in contacts if c.name.lower() == name), None)
        if match is not None:
            if match.name != row.name:
                match.name = row.name
            if row.email and match.email != row.email:
                match.email = row.email
            if row.phone and match.phone != row.phone:
                match.phone = row.phone
            return None
        contact = Contact(
            tenant_id=client.tenant_id,
            id=uuid.uuid4(),
            client_id=client.id,
            name=row.name,
            email=row.email,
            phone=row.phone,
            is_primary=not any(c.is_primary for c in contacts),
        )
        contacts.append(contact)
        return contact


def is_transient_conflict(exc: DBAPIError) -> bool:
    """A unique violation, deadlock or serialization failure: what a concurrent import of
    the same clients causes, and what running the batch again resolves."""
    cause = getattr(exc.orig, "__cause__", None)
    return getattr(cause, "sqlstate", None) in TRANSIENT_SQLSTATES


def _export_cells(row: ExportRow) -> list[str]:
    client, contact_name, contact_email, contact_phone = row
    by_column = {
        "company_name": client.company_name,
        "industry": client.industry,
        "website": client.website,
        "tags": TAG_SEPARATOR.join(client.tags or []),
        "status": client.status,
        "notes": client.notes,
        "contact_name": contact_name,
        "contact_email": contact_email,
        "contact_phone": contact_phone,
        "external_id": client.external_id,
        "id": str(client.id),
        "owner_id": str(client.owner_id) if client.owner_id else "",
        "created_at": rfc3339_utc(client.created_at),
        "total_revenue_cents": str(client.total_revenue_cents),
    }
    return [guard(str(by_column[c] or "")) for c in EXPORT_COLUMNS]


def _csv_lines(records: list[list[str]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerows(records)
    return buffer.getvalue()


import_service = ImportService()
