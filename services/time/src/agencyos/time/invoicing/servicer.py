"""TimeService gRPC for billing: unbilled entries, reservation, invoiced, release. Every call
runs under the caller's tenant and needs `invoices.write`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date

import grpc

from agencyos.common.auth import Principal
from agencyos.common.errors import InvalidInput
from agencyos.common.rpc import (
    parse_uuid,
    parse_uuids,
    rpc_principal,
    rpc_session,
)
from agencyos.common.web import ServiceContext
from agencyos.protos.time.v1 import time_pb2, time_pb2_grpc
from agencyos.time.invoicing.repository import Selection
from agencyos.time.invoicing.service import ValuedEntry, invoicing_service
from agencyos.time.peers import Peers
from agencyos.time.projects.directory import known_projects

PERMISSION = "invoices.write"
MAX_PROJECT_IDS = 500
MAX_ENTRY_IDS = 10_000
_CURRENCY = re.compile(r"^[A-Z]{3}$")


def _day(raw: str, field: str) -> date | None:
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError as exc:
        raise InvalidInput(f"{field} must be an ISO date (YYYY-MM-DD)") from exc


def selection_of(message: time_pb2.EntrySelection) -> Selection:
    period_from = _day(message.period_from, "period_from")
    period_to = _day(message.period_to, "period_to")
    if period_from and period_to and period_from > period_to:
        raise InvalidInput("period_from must not be after period_to")
    if message.currency and not _CURRENCY.match(message.currency):
        raise InvalidInput("currency must be an ISO 4217 code such as EUR")
    return Selection(
        client_id=parse_uuid(message.client_id, "client_id"),
        project_ids=parse_uuids(message.project_ids, "project_ids", MAX_PROJECT_IDS),
        period_from=period_from,
        period_to=period_to,
        currency=message.currency or None,
    )


def entry_message(valued: ValuedEntry) -> time_pb2.BillableEntry:
    entry = valued.entry
    return time_pb2.BillableEntry(
        id=str(entry.id),
        project_id=str(entry.project_id),
        task_id=str(entry.task_id or ""),
        user_id=str(entry.user_id),
        client_id=str(entry.client_id or ""),
        date=entry.date.isoformat(),
        duration_seconds=entry.duration_seconds,
        description=entry.description,
        rate_cents=valued.rate_cents or 0,
        currency=valued.currency or "",
        amount_cents=valued.amount_cents,
        rate_source=valued.rate_source,
        cost_rate_cents=valued.cost_rate_cents or 0,
    )


def _entries(valued: Sequence[ValuedEntry]) -> time_pb2.BillableEntries:
    return time_pb2.BillableEntries(entries=[entry_message(v) for v in valued])


class InvoicingRpc(time_pb2_grpc.TimeServiceServicer):
    """Mixed into the service's one TimeServicer, which provides `ctx` and `db`."""

    ctx: ServiceContext

    def _caller(self) -> Principal:
        principal = rpc_principal()
        principal.require(PERMISSION)
        return principal

    def _peers(self) -> Peers:
        return Peers.from_settings(self.ctx.settings)

    async def ListUnbilledEntries(
        self, request: time_pb2.EntrySelection, context: grpc.aio.ServicerContext
    ) -> time_pb2.BillableEntries:
        principal = self._caller()
        selection = selection_of(request)
        session = rpc_session()
        entries, book = await invoicing_service.unbilled(session, selection)
        projects = await known_projects(
            session, principal, self._peers().work, [e.project_id for e in entries]
        )
        return _entries(invoicing_service.valued(entries, book, projects, selection.currency))

    async def ReserveEntries(
        self, request: time_pb2.ReserveEntriesRequest, context: grpc.aio.ServicerContext
    ) -> time_pb2.BillableEntries:
        principal = self._caller()
        invoice_id = parse_uuid(request.invoice_id, "invoice_id")
        selection = selection_of(request.selection)
        entry_ids = parse_uuids(request.entry_ids, "entry_ids", MAX_ENTRY_IDS)
        peers = self._peers()
        # The projects are looked up before anything is reserved (time's copy of work's
        # projects; work is asked only for one the copy lacks), so no row lock is held while
        # waiting on another service.
        session = rpc_session()
        project_ids = await invoicing_service.candidate_project_ids(session, selection, invoice_id)
        projects = await known_projects(session, principal, peers.work, project_ids)
        valued = await invoicing_service.reserve(
            session,
            principal,
            invoice_id,
            selection,
            entry_ids=entry_ids,
            projects=projects,
            peers=peers,
        )
        return _entries(valued)

    async def ConfirmInvoiced(
        self, request: time_pb2.InvoiceRef, context: grpc.aio.ServicerContext
    ) -> time_pb2.EntryCount:
        principal = self._caller()
        invoice_id = parse_uuid(request.invoice_id, "invoice_id")
        session = rpc_session()
        count = await invoicing_service.confirm_invoiced(session, principal, invoice_id)
        return time_pb2.EntryCount(count=count)

    async def ReleaseEntries(
        self, request: time_pb2.InvoiceRef, context: grpc.aio.ServicerContext
    ) -> time_pb2.EntryCount:
        principal = self._caller()
        invoice_id = parse_uuid(request.invoice_id, "invoice_id")
        session = rpc_session()
        count = await invoicing_service.release(session, invoice_id, actor_id=principal.user_id)
        return time_pb2.EntryCount(count=count)
