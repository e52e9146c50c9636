"""The typed client of time's gRPC contract (`agencyos.time.v1.TimeService`): billing's view
of billable time, which it reserves for an invoice, confirms and releases."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Any

from agencyos.common.auth import Principal
from agencyos.common.peers._base import optional_uuid
from agencyos.common.rpc import call, channel, iso_date
from agencyos.protos.time.v1 import time_pb2, time_pb2_grpc


@dataclass(frozen=True)
class TimeSelection:
    """Which time an invoice bills: one client's, optionally of some projects, a period and
    one currency."""

    client_id: uuid.UUID
    project_ids: tuple[uuid.UUID, ...] = ()
    period_from: date | None = None
    period_to: date | None = None
    currency: str | None = None

    def message(self) -> time_pb2.EntrySelection:
        return time_pb2.EntrySelection(
            client_id=str(self.client_id),
            project_ids=[str(p) for p in self.project_ids],
            period_from=iso_date(self.period_from),
            period_to=iso_date(self.period_to),
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


def entry_of(message: time_pb2.BillableEntry) -> BillableEntry:
    return BillableEntry(
        id=uuid.UUID(message.id),
        project_id=uuid.UUID(message.project_id),
        task_id=optional_uuid(message.task_id),
        user_id=uuid.UUID(message.user_id),
        day=date.fromisoformat(message.date),
        duration_seconds=message.duration_seconds,
        rate_cents=message.rate_cents,
        currency=message.currency,
        rate_source=message.rate_source,
    )


class TimeClient:
    def __init__(self, target: str, timeout: float) -> None:
        self.target = target
        self.timeout = timeout

    @cached_property
    def stub(self) -> time_pb2_grpc.TimeServiceStub:
        # Made at the first call, on the event loop (a client may be built in a sync FastAPI
        # dependency, which runs in a worker thread), then kept for the client's lifetime.
        return time_pb2_grpc.TimeServiceStub(channel(self.target))

    @classmethod
    def of(cls, settings: Any) -> TimeClient:
        return cls(settings.time_grpc_target, settings.grpc_timeout_seconds)

    async def unbilled_entries(
        self, principal: Principal, selection: TimeSelection
    ) -> list[BillableEntry]:
        response = await call(
            self.stub.ListUnbilledEntries,
            selection.message(),
            principal=principal,
            timeout=self.timeout,
        )
        return [entry_of(e) for e in response.entries]

    async def reserve_entries(
        self,
        principal: Principal,
        invoice_id: uuid.UUID,
        selection: TimeSelection,
        entry_ids: Sequence[uuid.UUID],
    ) -> list[BillableEntry]:
        """Hand these entries to the invoice (never to two); answers all the invoice holds."""
        response = await call(
            self.stub.ReserveEntries,
            time_pb2.ReserveEntriesRequest(
                invoice_id=str(invoice_id),
                selection=selection.message(),
                entry_ids=[str(e) for e in entry_ids],
            ),
            principal=principal,
            timeout=self.timeout,
        )
        return [entry_of(e) for e in response.entries]

    async def confirm_invoiced(self, principal: Principal, invoice_id: uuid.UUID) -> int:
        response = await call(
            self.stub.ConfirmInvoiced,
            time_pb2.InvoiceRef(invoice_id=str(invoice_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return int(response.count)

    async def release_entries(self, principal: Principal, invoice_id: uuid.UUID) -> int:
        response = await call(
            self.stub.ReleaseEntries,
            time_pb2.InvoiceRef(invoice_id=str(invoice_id)),
            principal=principal,
            timeout=self.timeout,
        )
        return int(response.count)
