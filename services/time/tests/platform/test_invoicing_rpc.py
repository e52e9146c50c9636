"""The gRPC billing uses to take time onto invoices, against the running time service: what is
unbilled and what it is worth, and reserving (atomic under concurrent invoice runs, idempotent
per invoice, one client and one currency per invoice). Confirming, releasing and who may call:
test_invoicing_rpc_confirm_release.py."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import date, timedelta
from typing import Any

import grpc
import httpx

from agencyos.protos.time.v1 import time_pb2, time_pb2_grpc
from agencyos.testing.factories import (
    create_crm_client,
)
from agencyos.testing.platform import Platform
from agencyos.testing.time_invoicing import (
    DAY,
    Books,
    as_caller,
    reserve,
    rpc_error,
    selection,
    summary,
    unbilled,
)


class TestListUnbilledEntries:
    async def test_only_approved_billable_unheld_time_of_the_client_with_its_value(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        stub: time_pb2_grpc.TimeServiceStub,
        books: Books,
    ) -> None:
        # worth: 1.5 h at work's 12 000 EUR; 1.5 h at the agency's 10 000 in USD; 5 s at a
        # frozen 9 000 = 12.5 cents, which rounds half up to 13
        on_eur = await books.entry(seconds=5_400)
        on_usd = await books.entry(project=books.usd, seconds=5_400, day=DAY + timedelta(1))
        frozen = await books.entry(seconds=5, rate=9_000, currency="EUR", user=books.agency)
        # none of these are unbilled time of this client
        for status in ("draft", "submitted", "rejected"):
            await books.entry(status=status)
        await books.entry(billable=False)
        other_client = await create_crm_client(platform, books.agency)
        await books.entry(client_id=other_client)
        held = await books.entry()
        assert await reserve(stub, books, uuid.uuid4(), [held]) == {held}

        got = await unbilled(stub, books)

        assert set(got) == {on_eur, on_usd, frozen}
        assert summary(got[on_eur]) == (12_000, "EUR", 18_000, "project")
        assert summary(got[on_usd]) == (10_000, "USD", 15_000, "agency")
        assert summary(got[frozen]) == (9_000, "EUR", 13, "frozen")
        entry = got[on_usd]
        assert (entry.project_id, entry.user_id, entry.client_id) == (
            str(books.usd),
            str(books.person.user_id),
            str(books.client_id),
        )
        assert (entry.date, entry.duration_seconds, entry.task_id) == ("2026-11-03", 5_400, "")
        # ordered by day
        assert list(got)[2] == on_usd

    async def test_projects_period_and_currency_narrow_the_list(
        self, stub: time_pb2_grpc.TimeServiceStub, books: Books
    ) -> None:
        early = await books.entry(day=date(2026, 10, 30))
        first = await books.entry(day=date(2026, 11, 1))
        last = await books.entry(day=date(2026, 11, 30))
        late = await books.entry(day=date(2026, 12, 1))
        on_usd = await books.entry(project=books.usd, day=date(2026, 11, 15))
        usd_frozen_on_eur = await books.entry(day=date(2026, 11, 16), rate=1, currency="USD")

        november = await unbilled(stub, books, period_from="2026-11-01", period_to="2026-11-30")
        only_usd_project = await unbilled(stub, books, project_ids=[str(books.usd)])
        in_usd = await unbilled(stub, books, currency="USD")
        from_december = await unbilled(stub, books, period_from="2026-12-01")

        assert set(november) == {first, last, on_usd, usd_frozen_on_eur}
        assert set(only_usd_project) == {on_usd}
        assert set(in_usd) == {on_usd, usd_frozen_on_eur}
        assert set(from_december) == {late}
        assert early in await unbilled(stub, books, period_to="2026-10-31")

    async def test_the_most_specific_rate_values_unfrozen_time(
        self,
        gateway: httpx.AsyncClient,
        stub: time_pb2_grpc.TimeServiceStub,
        books: Books,
    ) -> None:
        response = await gateway.post(
            "/v1/rates",
            json={
                "kind": "billable",
                "scope": "project_member",
                "user_id": str(books.person.user_id),
                "project_id": str(books.usd),
                "hourly_rate_cents": 13_333,
                "effective_from": "2026-11-03",
            },
            headers=books.agency.headers,
        )
        assert response.status_code == 201, response.text
        before = await books.entry(project=books.usd, day=date(2026, 11, 2), seconds=2_700)
        after = await books.entry(project=books.usd, day=date(2026, 11, 3), seconds=2_700)

        got = await unbilled(stub, books)

        # 0.75 h x 13 333 = 9 999.75 -> 10 000
        assert summary(got[before]) == (10_000, "USD", 7_500, "agency")
        assert summary(got[after]) == (13_333, "USD", 10_000, "project_member")


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
        platform: Platform,
        stub: time_pb2_grpc.TimeServiceStub,
        books: Books,
    ) -> None:
        ours = await books.entry()
        other_client = await create_crm_client(platform, books.agency)
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
