"""Time's invoicing gRPC after reserving: confirming as invoiced (with `time.entries.invoiced`),
releasing (by call and on `billing.invoice.voided` from Kafka), the audit trail of each step;
and callers without `invoices.write`, other agencies and malformed arguments get nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import grpc
import pytest

from agencyos.common.events import InvoiceVoided, build_event
from agencyos.protos.time.v1 import time_pb2, time_pb2_grpc
from agencyos.testing.factories import (
    AgencySession,
)
from agencyos.testing.kafka import events_where, read_topic, topic_writer
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_value
from agencyos.testing.time_invoicing import (
    DAY,
    Books,
    as_caller,
    reserve,
    rpc_error,
    selection,
    unbilled,
)


async def invoiced_events(platform: Platform, who: AgencySession, invoice: uuid.UUID) -> int:
    """How many `time.entries.invoiced` events for `invoice` time's outbox holds."""
    count = await fetch_value(
        platform.infra,
        platform.database("time"),
        "SELECT count(*) FROM outbox WHERE event_type = 'time.entries.invoiced' "
        "AND envelope->'data'->>'invoice_id' = $1",
        str(invoice),
        tenant_id=who.agency_id,
    )
    return int(count)


class TestConfirmAndRelease:
    async def test_confirming_invoices_the_reserved_entries_once_and_tells_kafka(
        self, platform: Platform, stub: time_pb2_grpc.TimeServiceStub, books: Books
    ) -> None:
        first = await books.entry(seconds=3_600)
        second = await books.entry(seconds=1_200, day=DAY + timedelta(1))
        invoice = uuid.uuid4()
        await reserve(stub, books, invoice)
        ref = time_pb2.InvoiceRef(invoice_id=str(invoice))

        confirmed = await stub.ConfirmInvoiced(ref, metadata=as_caller(books.agency))
        again = await stub.ConfirmInvoiced(ref, metadata=as_caller(books.agency))

        assert confirmed.count == again.count == 2
        rows = await books.rows(
            "SELECT status, invoice_id FROM time_entries WHERE id = ANY($1)", [first, second]
        )
        assert [(r["status"], r["invoice_id"]) for r in rows] == [("invoiced", invoice)] * 2
        trail = await books.rows(
            "SELECT action, changes->'status' AS status FROM time_entry_changes "
            "WHERE entry_id = ANY($1) AND action = 'invoiced'",
            [first, second],
        )
        assert len(trail) == 2
        assert await invoiced_events(platform, books.agency, invoice) == 1

        topic = f"{platform.topic_prefix}time.events"

        def matching(records: list[Any]) -> list[dict[str, Any]]:
            return [
                e
                for e in events_where(
                    records, tenantid=str(books.agency.agency_id), type="time.entries.invoiced"
                )
                if e["data"]["invoice_id"] == str(invoice)
            ]

        records = await read_topic(
            platform.infra.kafka_bootstrap, topic, lambda rs: len(matching(rs)) >= 1
        )
        (event,) = matching(records)
        assert sorted(event["data"]["entry_ids"]) == sorted([str(first), str(second)])
        assert event["data"]["total_seconds"] == 4_800
        assert event["subject"] == f"invoices/{invoice}"

    async def test_confirming_an_invoice_that_holds_nothing_changes_nothing(
        self, platform: Platform, stub: time_pb2_grpc.TimeServiceStub, books: Books
    ) -> None:
        loose = await books.entry()
        invoice = uuid.uuid4()

        confirmed = await stub.ConfirmInvoiced(
            time_pb2.InvoiceRef(invoice_id=str(invoice)), metadata=as_caller(books.agency)
        )

        assert confirmed.count == 0
        assert await invoiced_events(platform, books.agency, invoice) == 0
        rows = await books.rows("SELECT status FROM time_entries WHERE id = $1", loose)
        assert rows[0]["status"] == "approved"

    async def test_release_frees_reserved_and_invoiced_time_and_is_idempotent(
        self, stub: time_pb2_grpc.TimeServiceStub, books: Books
    ) -> None:
        reserved = await books.entry()
        invoiced = await books.entry(day=DAY + timedelta(1))
        draft_invoice, sent_invoice = uuid.uuid4(), uuid.uuid4()
        await reserve(stub, books, draft_invoice, [reserved])
        await reserve(stub, books, sent_invoice, [invoiced])
        await stub.ConfirmInvoiced(
            time_pb2.InvoiceRef(invoice_id=str(sent_invoice)), metadata=as_caller(books.agency)
        )

        counts = []
        for invoice in (draft_invoice, sent_invoice, draft_invoice, sent_invoice):
            released = await stub.ReleaseEntries(
                time_pb2.InvoiceRef(invoice_id=str(invoice)), metadata=as_caller(books.agency)
            )
            counts.append(released.count)

        assert counts == [1, 1, 0, 0]
        rows = await books.rows(
            "SELECT status, invoice_id, reserved_at FROM time_entries WHERE id = ANY($1)",
            [reserved, invoiced],
        )
        assert [tuple(r) for r in rows] == [("approved", None, None)] * 2
        assert set(await unbilled(stub, books)) == {reserved, invoiced}
        trail = await books.rows(
            "SELECT entry_id, changes FROM time_entry_changes WHERE action = 'released' "
            "AND entry_id = ANY($1)",
            [reserved, invoiced],
        )
        by_entry = {r["entry_id"]: json.loads(r["changes"]) for r in trail}
        assert set(by_entry) == {reserved, invoiced}
        assert by_entry[invoiced]["status"] == {"old": "invoiced", "new": "approved"}
        assert by_entry[invoiced]["invoice_id"] == {"old": str(sent_invoice), "new": None}
        assert "status" not in by_entry[reserved]
        # free again: the next invoice run takes them
        assert await reserve(stub, books, uuid.uuid4()) == {reserved, invoiced}

    async def test_a_voided_invoice_on_kafka_releases_its_time(
        self,
        platform: Platform,
        stub: time_pb2_grpc.TimeServiceStub,
        books: Books,
        other_agency: AgencySession,
    ) -> None:
        entries = [await books.entry(), await books.entry(day=DAY + timedelta(1))]
        invoice = uuid.uuid4()
        await reserve(stub, books, invoice)
        await stub.ConfirmInvoiced(
            time_pb2.InvoiceRef(invoice_id=str(invoice)), metadata=as_caller(books.agency)
        )

        def voided(tenant: uuid.UUID) -> Any:
            return build_event(
                InvoiceVoided(
                    invoice_id=invoice,
                    client_id=books.client_id,
                    number="INV-0001",
                    reason="sent to the wrong client",
                    voided_at=datetime.now(UTC),
                ),
                tenant_id=tenant,
                source_service="billing",
                subject=f"invoices/{invoice}",
            )

        # another agency's void naming this invoice id touches nothing of this agency
        stray, real = voided(other_agency.agency_id), voided(books.agency.agency_id)
        topic = f"{platform.topic_prefix}billing.events"
        async with topic_writer(platform.infra.kafka_bootstrap) as writer:
            await writer.send_event(topic, stray)
            await wait_for_inbox(platform, other_agency.agency_id, stray.id)
            assert set((await books.holders(entries)).values()) == {invoice}
            await writer.send_event(topic, real)
            # a redelivery of the same event has no second effect
            await writer.send_event(topic, real)
            await wait_for_inbox(platform, books.agency.agency_id, real.id)

        rows = await books.rows(
            "SELECT status, invoice_id FROM time_entries WHERE id = ANY($1)", entries
        )
        assert [tuple(r) for r in rows] == [("approved", None)] * 2
        trail = await books.rows(
            "SELECT actor_id FROM time_entry_changes WHERE action = 'released' "
            "AND entry_id = ANY($1)",
            entries,
        )
        assert [r["actor_id"] for r in trail] == [None, None]


async def wait_for_inbox(
    platform: Platform, tenant_id: uuid.UUID, event_id: uuid.UUID, timeout: float = 30.0
) -> None:
    """Until time's consumer has handled the event (its id is in the inbox)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        handled = await fetch_value(
            platform.infra,
            platform.database("time"),
            "SELECT count(*) FROM inbox WHERE event_id = $1",
            event_id,
            tenant_id=tenant_id,
        )
        if handled:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"time did not handle event {event_id} within {timeout}s")
        await asyncio.sleep(0.2)


class TestWhoMayCall:
    async def test_a_member_without_invoices_write_is_denied_everything(
        self, stub: time_pb2_grpc.TimeServiceStub, books: Books
    ) -> None:
        entry = await books.entry()
        invoice = uuid.uuid4()
        member = books.person
        calls = [
            stub.ListUnbilledEntries(selection(books), metadata=as_caller(member), timeout=10),
            stub.ReserveEntries(
                time_pb2.ReserveEntriesRequest(invoice_id=str(invoice), selection=selection(books)),
                metadata=as_caller(member),
                timeout=10,
            ),
            stub.ConfirmInvoiced(
                time_pb2.InvoiceRef(invoice_id=str(invoice)), metadata=as_caller(member)
            ),
            stub.ReleaseEntries(
                time_pb2.InvoiceRef(invoice_id=str(invoice)), metadata=as_caller(member)
            ),
        ]

        for call in calls:
            error = await rpc_error(call)
            assert error.code() == grpc.StatusCode.PERMISSION_DENIED
            assert "invoices.write" in (error.details() or "")
        assert await books.holders([entry]) == {entry: None}

    async def test_without_a_token_the_caller_is_unauthenticated(
        self, stub: time_pb2_grpc.TimeServiceStub, books: Books
    ) -> None:
        error = await rpc_error(stub.ListUnbilledEntries(selection(books), timeout=10))

        assert error.code() == grpc.StatusCode.UNAUTHENTICATED

    async def test_another_agency_never_sees_reserves_or_releases_this_agencys_time(
        self,
        stub: time_pb2_grpc.TimeServiceStub,
        books: Books,
        other_agency: AgencySession,
    ) -> None:
        loose = await books.entry()
        held = await books.entry(day=DAY + timedelta(1))
        invoice = uuid.uuid4()
        assert await reserve(stub, books, invoice, [held]) == {held}
        theirs = as_caller(other_agency)

        listed = await stub.ListUnbilledEntries(selection(books), metadata=theirs, timeout=10)
        reserved = await stub.ReserveEntries(
            time_pb2.ReserveEntriesRequest(
                invoice_id=str(uuid.uuid4()),
                selection=selection(books),
                entry_ids=[str(loose), str(held)],
            ),
            metadata=theirs,
            timeout=10,
        )
        again = await stub.ReserveEntries(
            time_pb2.ReserveEntriesRequest(invoice_id=str(invoice), selection=selection(books)),
            metadata=theirs,
            timeout=10,
        )
        confirmed = await stub.ConfirmInvoiced(
            time_pb2.InvoiceRef(invoice_id=str(invoice)), metadata=theirs
        )
        released = await stub.ReleaseEntries(
            time_pb2.InvoiceRef(invoice_id=str(invoice)), metadata=theirs
        )

        assert list(listed.entries) == []
        assert list(reserved.entries) == list(again.entries) == []
        assert (confirmed.count, released.count) == (0, 0)
        rows = await books.rows(
            "SELECT id, status, invoice_id FROM time_entries WHERE id = ANY($1)", [loose, held]
        )
        assert {r["id"]: (r["status"], r["invoice_id"]) for r in rows} == {
            loose: ("approved", None),
            held: ("approved", invoice),
        }

    @pytest.mark.parametrize(
        ("method", "request_fields"),
        [
            ("ListUnbilledEntries", {"client_id": "nope"}),
            ("ListUnbilledEntries", {"client_id": ""}),
            ("ListUnbilledEntries", {"project_ids": ["nope"]}),
            ("ListUnbilledEntries", {"period_from": "2026-13-01"}),
            ("ListUnbilledEntries", {"period_from": "2026-11-30", "period_to": "2026-11-01"}),
            ("ListUnbilledEntries", {"currency": "eur"}),
            ("ReserveEntries", {"invoice_id": "nope"}),
            ("ReserveEntries", {"invoice_id": ""}),
            ("ReserveEntries", {"entry_ids": ["nope"]}),
            ("ReserveEntries", {"client_id": "nope"}),
            ("ConfirmInvoiced", {"invoice_id": "nope"}),
            ("ReleaseEntries", {"invoice_id": ""}),
        ],
    )
    async def test_malformed_arguments_are_invalid(
        self,
        stub: time_pb2_grpc.TimeServiceStub,
        books: Books,
        method: str,
        request_fields: dict[str, Any],
    ) -> None:
        entry = await books.entry()
        fields = dict(request_fields)
        sel = {"client_id": str(books.client_id)}
        for key in ("client_id", "project_ids", "period_from", "period_to", "currency"):
            if key in fields:
                sel[key] = fields.pop(key)
        request: Any
        if method == "ListUnbilledEntries":
            request = time_pb2.EntrySelection(**sel)
        elif method == "ReserveEntries":
            request = time_pb2.ReserveEntriesRequest(
                invoice_id=fields.pop("invoice_id", str(uuid.uuid4())),
                selection=time_pb2.EntrySelection(**sel),
                entry_ids=fields.pop("entry_ids", []),
            )
        else:
            request = time_pb2.InvoiceRef(invoice_id=fields.pop("invoice_id"))

        error = await rpc_error(
            getattr(stub, method)(request, metadata=as_caller(books.agency), timeout=10)
        )

        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
        assert await books.holders([entry]) == {entry: None}
