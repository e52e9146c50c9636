"""What billing asks other services, over gRPC with the caller's own token (so every answer is
for the caller's agency only): identity for the agency (branding, prefix, default tax, time
zone) and people's names, CRM for clients, work for projects and tasks, time for the billable
time it reserves, confirms and releases."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from fastapi import Request

from agencyos.common.auth import Principal
from agencyos.common.rpc import call, call_for_ids, channel
from agencyos.common.zones import zone_or_utc
from agencyos.protos.crm.v1 import crm_pb2, crm_pb2_grpc
from agencyos.protos.identity.v1 import identity_pb2, identity_pb2_grpc
from agencyos.protos.time.v1 import time_pb2, time_pb2_grpc
from agencyos.protos.work.v1 import work_pb2, work_pb2_grpc


@dataclass(frozen=True)
class AgencyInfo:
    name: str
    currency: str
    timezone: ZoneInfo
    logo_url: str | None
    brand_color: str | None
    invoice_prefix: str
    default_tax_rate_bps: int


@dataclass(frozen=True)
class ClientInfo:
    id: uuid.UUID
    company_name: str
    currency: str | None
    address_lines: tuple[str, ...]
    contact_name: str | None
    contact_email: str | None


@dataclass(frozen=True)
class ProjectInfo:
    id: uuid.UUID
    name: str
    client_id: uuid.UUID | None
    currency: str


@dataclass(frozen=True)
class TimeSelection:
    client_id: uuid.UUID
    project_ids: tuple[uuid.UUID, ...] = ()
    period_from: date | None = None
    period_to: date | None = None
    currency: str | None = None

    def message(self) -> time_pb2.EntrySelection:
        return time_pb2.EntrySelection(
            client_id=str(self.client_id),
            project_ids=[str(p) for p in self.project_ids],
            period_from=self.period_from.isoformat() if self.period_from else "",
            period_to=self.period_to.isoformat() if self.period_to else "",
            currency=self.currency or "",
        )


@dataclass(frozen=True)
class BillableEntry:
    id: uuid.UUID
    project_id: uuid.UUID
    task_id: uuid.UUID | None
    user_id: uuid.UUID
    day: date
    duration_seconds: int
    rate_cents: int
    currency: str
    rate_source: str


def _entry(message: time_pb2.BillableEntry) -> BillableEntry:
    return BillableEntry(
        id=uuid.UUID(message.id),
        project_id=uuid.UUID(message.project_id),
        task_id=uuid.UUID(message.task_id) if message.task_id else None,
        user_id=uuid.UUID(message.user_id),
        day=date.fromisoformat(message.date),
        duration_seconds=message.duration_seconds,
        rate_cents=message.rate_cents,
        currency=message.currency,
        rate_source=message.rate_source,
    )


def _address(client: crm_pb2.Client) -> tuple[str, ...]:
    city_line = " ".join(part for part in (client.postal_code, client.city) if part)
    lines = (
        client.address_line1,
        client.address_line2,
        city_line,
        client.region,
        client.country,
    )
    return tuple(line for line in lines if line)


class Peers:
    def __init__(
        self,
        *,
        identity_target: str,
        crm_target: str,
        work_target: str,
        time_target: str,
        timeout: float,
    ) -> None:
        self.identity_target = identity_target
        self.crm_target = crm_target
        self.work_target = work_target
        self.time_target = time_target
        self.timeout = timeout

    @classmethod
    def of(cls, request: Request) -> Peers:
        settings = request.app.state.ctx.settings
        return cls(
            identity_target=settings.identity_grpc_target,
            crm_target=settings.crm_grpc_target,
            work_target=settings.work_grpc_target,
            time_target=settings.time_grpc_target,
            timeout=settings.grpc_timeout_seconds,
        )

    # --- identity --------------------------------------------------------------------------

    async def agency(self, principal: Principal) -> AgencyInfo:
        stub = identity_pb2_grpc.IdentityServiceStub(channel(self.identity_target))
        agency = await call(
            stub.GetAgency,
            identity_pb2.GetAgencyRequest(),
            principal=principal,
            timeout=self.timeout,
        )
        return AgencyInfo(
            name=agency.name,
            currency=agency.currency,
            timezone=zone_or_utc(agency.timezone),
            logo_url=agency.logo_url or None,
            brand_color=agency.brand_color or None,
            invoice_prefix=agency.invoice_prefix,
            default_tax_rate_bps=agency.default_tax_rate_bps,
        )

    async def member_names(
        self, principal: Principal, user_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        stub = identity_pb2_grpc.IdentityServiceStub(channel(self.identity_target))
        responses = await call_for_ids(
            stub.GetMembers,
            user_ids,
            lambda batch: identity_pb2.GetMembersRequest(user_ids=batch),
            principal=principal,
            timeout=self.timeout,
        )
        return {
            uuid.UUID(m.user_id): m.name or m.email
            for response in responses
            for m in response.members
        }

    # --- crm -------------------------------------------------------------------------------

    async def client(self, principal: Principal, client_id: uuid.UUID) -> ClientInfo | None:
        """The CRM client of the caller's agency, or None (unknown or another agency's)."""
        stub = crm_pb2_grpc.CrmServiceStub(channel(self.crm_target))
        response = await call(
            stub.GetClients,
            crm_pb2.GetClientsRequest(client_ids=[str(client_id)]),
            principal=principal,
            timeout=self.timeout,
        )
        for found in response.clients:
            if found.id == str(client_id):
                return ClientInfo(
                    id=client_id,
                    company_name=found.company_name,
                    currency=found.currency or None,
                    address_lines=_address(found),
                    contact_name=found.primary_contact_name or None,
                    contact_email=found.primary_contact_email or None,
                )
        return None

    # --- work ------------------------------------------------------------------------------

    async def projects(
        self, principal: Principal, project_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, ProjectInfo]:
        """The projects among `project_ids` the caller may see; the rest are absent."""
        stub = work_pb2_grpc.WorkServiceStub(channel(self.work_target))
        responses = await call_for_ids(
            stub.GetProjects,
            project_ids,
            lambda batch: work_pb2.GetProjectsRequest(project_ids=batch),
            principal=principal,
            timeout=self.timeout,
        )
        return {
            uuid.UUID(p.id): ProjectInfo(
                id=uuid.UUID(p.id),
                name=p.name,
                client_id=uuid.UUID(p.client_id) if p.client_id else None,
                currency=p.currency,
            )
            for response in responses
            for p in response.projects
        }

    async def task_titles(
        self, principal: Principal, task_ids: Sequence[uuid.UUID]
    ) -> dict[uuid.UUID, str]:
        stub = work_pb2_grpc.WorkServiceStub(channel(self.work_target))
        responses = await call_for_ids(
            stub.GetTasks,
            task_ids,
            lambda batch: work_pb2.GetTasksRequest(task_ids=batch),
            principal=principal,
            timeout=self.timeout,
        )
        return {uuid.UUID(t.id): t.title for response in responses for t in response.tasks}

    # --- time ------------------------------------------------------------------------------

    def _time(self) -> time_pb2_grpc.TimeServiceStub:
        return time_pb2_grpc.TimeServiceStub(channel(self.time_target))

    async def unbilled_entries(
        self, principal: Principal, selection: TimeSelection
    ) -> list[BillableEntry]:
        response = await call(
            self._time().ListUnbilledEntries,
            selection.message(),
            principal=principal,
            timeout=self.timeout,
        )
        return [_entry(e) for e in response.entries]

    async def reserve_entries(
        self,
        principal: Principal,
        invoice_id: uuid.UUID,
        selection: TimeSelection,
        entry_ids: Sequence[uuid.UUID],
    ) -> list[BillableEntry]:
        """Hand these entries to the invoice (never to two); answers all the invoice holds."""
        response = await call(
            self._time().ReserveEntries,
            time_pb2.ReserveEntriesRequest(
                invoice_id=str(invoice_id),
                selection=selection.message(),
                entry_ids=[str(e) for e in entry_ids],
            ),
            principal=principal,
            timeout=self.timeout,
        )
        return [_entry(e) for e in response.entries]

    async def confirm_invoiced(self, principal: Principal, invoice_id: uuid.UUID) -> int:
        response = await call(
            self._time().ConfirmInvoiced,
            time_pb2.InvoiceRef(invoice_id=str(invoice_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return int(response.count)

    async def release_entries(self, principal: Principal, invoice_id: uuid.UUID) -> int:
        response = await call(
            self._time().ReleaseEntries,
            time_pb2.InvoiceRef(invoice_id=str(invoice_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return int(response.count)
