"""Reserving time for an invoice (`invoicing/service.py`, billing's ReserveEntries): once,
freezing rate and currency with an audit trail, idempotent per invoice, only the named entries
of the selection, never one entry to two invoices however many runs race, one currency and one
client per invoice, nothing more once it is confirmed."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import timedelta
from typing import Any

import grpc

from agencyos.protos.time.v1 import time_pb2, time_pb2_grpc
from agencyos.testing.inprocess import Agency, InProcess
from agencyos.testing.time_invoicing import (
    DAY,
    Books,
    as_caller,
    reserve,
    rpc_error,
    selection,
    unbilled,
)


class TestReserveEntries:
    async def test_reserves_once_freezes_values_and_answers_again_for_the_same_invoice(
        self, stub: time_pb2_grpc.TimeServiceStub, books: Books
    ) -> None:
        first = await books.entry(seconds=1_800)
        second = await books.entry(seconds=900, day=DAY + timedelta(1))
        invoice, rival = uuid.uuid4(), uuid.uuid4()

        taken = await reserve(stub, books, invoice)
        again = await reserve(stub, books, invoice)
        for_rival = await reserve(stub, books, rival)
        late = await books.entry(seconds=600, day=DAY + timedelta(2))
        grown = await reserve(stub, books, invoice)

        assert taken == again == {first, second}
        assert for_rival == set()
        assert grown == {first, second, late}
        rows = await books.rows(
            "SELECT id, invoice_id, reserved_at, status, billable_rate_cents, currency, version "
            "FROM time_entries WHERE id = ANY($1)",
            [first, second, late],
        )
        for row in rows:
            assert row["invoice_id"] == invoice
            assert row["reserved_at"] is not None
            assert (row["status"], row["billable_rate_cents"], row["currency"]) == (
                "approved",
                12_000,
                "EUR",
            )
            assert row["version"] == 2
        assert await unbilled(stub, books) == {}
        trail = await books.rows(
            "SELECT entry_id, action, actor_id, changes FROM time_entry_changes "
            "WHERE entry_id = ANY($1) ORDER BY at",
            [first, second, late],
        )
        assert sorted((r["entry_id"], r["action"]) for r in trail) == sorted(
            (e, "reserved") for e in (first, second, late)
        )
        changes = json.loads(trail[0]["changes"])
        assert changes["invoice_id"] == {"old": None, "new": str(invoice)}
        assert changes["billable_rate_cents"] == {"old": None, "new": 12_000}
        assert changes["currency"] == {"old": None, "new": "EUR"}
        assert trail[0]["actor_id"] == books.agency.user_id

    async def test_only_the_named_entries_of_the_selection(
        self, stub: time_pb2_grpc.TimeServiceStub, books: Books
    ) -> None:
        wanted = await books.entry()
        left = await books.entry()
        on_usd = await books.entry(project=books.usd)
        invoice = uuid.uuid4()

        taken = await reserve(stub, books, invoice, [wanted, on_usd], project_ids=[str(books.eur)])

        assert taken == {wanted}
        assert await books.holders([wanted, left, on_usd]) == {
            wanted: invoice,
            left: None,
            on_usd: None,
        }

    async def test_concurrent_invoice_runs_never_hand_out_an_entry_twice(
        self, stub: time_pb2_grpc.TimeServiceStub, books: Books
    ) -> None:
        for _round in range(3):
            entries = [
                await books.entry(
                    project=books.eur if i % 2 else books.usd,
                    currency="EUR",
                    rate=10_000,
                    day=DAY - timedelta(days=i % 20),
                )
                for i in range(40)
            ]
            # whole-client runs, one per project, and ones naming overlapping subsets in
            # opposite orders, all at once
            runs: list[tuple[uuid.UUID, list[uuid.UUID] | None, dict[str, Any]]] = [
                (uuid.uuid4(), None, {}),
                (uuid.uuid4(), None, {}),
                (uuid.uuid4(), None, {"project_ids": [str(books.eur)]}),
                (uuid.uuid4(), None, {"project_ids": [str(books.usd)]}),
                (uuid.uuid4(), entries[:25], {}),
                (uuid.uuid4(), list(reversed(entries[15:])), {}),
                (uuid.uuid4(), None, {"period_from": (DAY - timedelta(5)).isoformat()}),
                (uuid.uuid4(), None, {"currency": "EUR"}),
            ]

            results = await asyncio.gather(
                *[reserve(stub, books, inv, ids, **fields) for inv, ids, fields in runs]
            )

            union: set[uuid.UUID] = set()
            for got in results:
                assert not (union & got), "an entry went to two invoices"
                union |= got
            assert union == set(entries)
            holders = await books.holders(entries)
            for (invoice, _, _), got in zip(runs, results, strict=True):
                assert {e for e, holder in holders.items() if holder == invoice} == got
            trail = await books.rows(
                "SELECT count(*) AS n FROM time_entry_changes "
                "WHERE entry_id = ANY($1) AND action = 'reserved'",
                entries,
            )
            assert trail[0]["n"] == len(entries)

    async def test_an_invoice_has_one_currency(
        self, stub: time_pb2_grpc.TimeServiceStub, books: Books
    ) -> None:
        in_eur = await books.entry()
        in_usd = await books.entry(project=books.usd)
        invoice = uuid.uuid4()

        mixed = await rpc_error(
            stub.ReserveEntries(
                time_pb2.ReserveEntriesRequest(invoice_id=str(invoice), selection=selection(books)),
                metadata=as_caller(books.agency),
                timeout=10,
            )
        )

        assert mixed.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert "EUR and USD" in (mixed.details() or "")
        assert await books.holders([in_eur, in_usd]) == {in_eur: None, in_usd: None}
        assert await reserve(stub, books, invoice, currency="USD") == {in_usd}
        # the invoice is in USD now: EUR time cannot join it
        joining = await rpc_error(
            stub.ReserveEntries(
                time_pb2.ReserveEntriesRequest(
                    invoice_id=str(invoice), selection=selection(books, currency="EUR")
                ),
                metadata=as_caller(books.agency),
                timeout=10,
            )
        )
        assert joining.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert await books.holders([in_eur, in_usd]) == {in_eur: None, in_usd: invoice}

    async def test_an_invoice_is_for_one_client_and_takes_nothing_once_confirmed(
        self,
        in_process: InProcess,
        tenant: Agency,
        stub: time_pb2_grpc.TimeServiceStub,
        books: Books,
    ) -> None:
        ours = await books.entry()
        other_client = in_process.standins.crm.add_client(tenant.id)
        theirs = await books.entry(client_id=other_client)
        invoice = uuid.uuid4()
        assert await reserve(stub, books, invoice) == {ours}

        other_client_run = await rpc_error(
            stub.ReserveEntries(
                time_pb2.ReserveEntriesRequest(
                    invoice_id=str(invoice),
                    selection=time_pb2.EntrySelection(client_id=str(other_client)),
                ),
                metadata=as_caller(books.agency),
                timeout=10,
            )
        )
        assert other_client_run.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert await books.holders([theirs]) == {theirs: None}

        await stub.ConfirmInvoiced(
            time_pb2.InvoiceRef(invoice_id=str(invoice)), metadata=as_caller(books.agency)
        )
        newer = await books.entry()
        after_confirm = await rpc_error(
            stub.ReserveEntries(
                time_pb2.ReserveEntriesRequest(invoice_id=str(invoice), selection=selection(books)),
                metadata=as_caller(books.agency),
                timeout=10,
            )
        )
        assert after_confirm.code() == grpc.StatusCode.FAILED_PRECONDITION
        assert await books.holders([newer]) == {newer: None}
