"""After reserving (`invoicing/service.py`): confirming an invoice's time as invoiced (once,
with one `time.entries.invoiced` event in the outbox), confirming an invoice that holds nothing,
and releasing reserved and invoiced time by call, each with its audit trail. Releasing on
`billing.invoice.voided` from Kafka: the platform tier."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from agencyos.protos.time.v1 import time_pb2, time_pb2_grpc
from agencyos.testing.factories import AgencySession
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_value
from agencyos.testing.time_invoicing import DAY, Books, as_caller, reserve, unbilled


async def invoiced_events(time_store: Platform, who: AgencySession, invoice: uuid.UUID) -> int:
    """How many `time.entries.invoiced` events for `invoice` time's outbox holds."""
    count = await fetch_value(
        time_store.infra,
        time_store.database("time"),
        "SELECT count(*) FROM outbox WHERE event_type = 'time.entries.invoiced' "
        "AND envelope->'data'->>'invoice_id' = $1",
        str(invoice),
        tenant_id=who.agency_id,
    )
    return int(count)


class TestConfirmAndRelease:
    async def test_confirming_invoices_the_reserved_entries_once_and_writes_one_event(
        self, time_store: Platform, stub: time_pb2_grpc.TimeServiceStub, books: Books
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
        assert await invoiced_events(time_store, books.agency, invoice) == 1

        # what the service wrote to its outbox (the relay publishes it: the platform tier)
        rows = await books.rows(
            "SELECT envelope FROM outbox WHERE event_type = 'time.entries.invoiced' "
            "AND envelope->'data'->>'invoice_id' = $1",
            str(invoice),
        )
        (event,) = [json.loads(r["envelope"]) for r in rows]
        assert sorted(event["data"]["entry_ids"]) == sorted([str(first), str(second)])
        assert event["data"]["total_seconds"] == 4_800
        assert event["subject"] == f"invoices/{invoice}"

    async def test_confirming_an_invoice_that_holds_nothing_changes_nothing(
        self, time_store: Platform, stub: time_pb2_grpc.TimeServiceStub, books: Books
    ) -> None:
        loose = await books.entry()
        invoice = uuid.uuid4()

        confirmed = await stub.ConfirmInvoiced(
            time_pb2.InvoiceRef(invoice_id=str(invoice)), metadata=as_caller(books.agency)
        )

        assert confirmed.count == 0
        assert await invoiced_events(time_store, books.agency, invoice) == 0
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
