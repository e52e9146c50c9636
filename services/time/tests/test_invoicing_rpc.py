"""The gRPC billing uses to take time onto invoices, against the running time service: what is
unbilled and what it is worth, reserving (atomic under concurrent invoice runs, idempotent per
invoice, one client and one currency per invoice), confirming as invoiced (with
`time.entries.invoiced`), releasing (by call and on `billing.invoice.voided` from Kafka), the
audit trail of each step; and callers without `invoices.write`, other agencies and malformed
arguments get nothing."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import grpc
import httpx
import pytest

from agencyos.common.events import InvoiceVoided, build_event
from agencyos.common.testing.factories import (
    AgencySession,
    add_member,
    create_crm_client,
    new_project,
    seed_time_entry,
)
from agencyos.common.testing.kafka import events_where, read_topic, topic_writer
from agencyos.common.testing.platform import Platform
from agencyos.common.testing.sql import fetch_rows, fetch_value
from agencyos.protos.time.v1 import time_pb2, time_pb2_grpc

DAY = date(2026, 11, 2)


@pytest.fixture
async def stub(platform: Platform) -> AsyncIterator[time_pb2_grpc.TimeServiceStub]:
    async with grpc.aio.insecure_channel(platform.grpc_target("time")) as channel:
        yield time_pb2_grpc.TimeServiceStub(channel)


def as_caller(who: AgencySession) -> list[tuple[str, str]]:
    return [("authorization", f"Bearer {who.access_token}")]


async def rpc_error(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


@dataclass
class Books:
    """An agency with a client, a person, and the client's projects: `eur` (work rate 12 000,
    EUR) and `usd` (no rate in work, USD, so the agency rate 10 000 applies)."""

    agency: AgencySession
    person: AgencySession
    client_id: uuid.UUID
    eur: uuid.UUID
    usd: uuid.UUID
    platform: Platform

    async def entry(
        self,
        *,
        project: uuid.UUID | None = None,
        day: date = DAY,
        seconds: int = 3_600,
        status: str = "approved",
        billable: bool = True,
        client_id: uuid.UUID | None = None,
        user: AgencySession | None = None,
        rate: int | None = None,
        currency: str | None = None,
    ) -> uuid.UUID:
        return await seed_time_entry(
            self.platform,
            self.agency,
            user_id=(user or self.person).user_id,
            project_id=project or self.eur,
            client_id=client_id or self.client_id,
            day=day,
            duration_seconds=seconds,
            status=status,
            is_billable=billable,
            billable_rate_cents=rate,
            currency=currency,
        )

    async def rows(self, query: str, *args: Any) -> list[Any]:
        return await fetch_rows(
            self.platform.infra,
            self.platform.database("time"),
            query,
            *args,
            tenant_id=self.agency.agency_id,
        )

    async def holders(self, entry_ids: list[uuid.UUID]) -> dict[uuid.UUID, uuid.UUID | None]:
        rows = await self.rows(
            "SELECT id, invoice_id FROM time_entries WHERE id = ANY($1)", entry_ids
        )
        return {r["id"]: r["invoice_id"] for r in rows}


@pytest.fixture
async def books(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Books:
    person = await add_member(platform, gateway, agency, "member")
    client_id = await create_crm_client(platform, agency)
    eur = await new_project(
        gateway,
        agency,
        person,
        client_id=str(client_id),
        billing_type="hourly",
        hourly_rate_cents=12_000,
        currency="EUR",
    )
    usd = await new_project(
        gateway, agency, person, client_id=str(client_id), billing_type="hourly", currency="USD"
    )
    response = await gateway.post(
        "/v1/rates",
        json={
            "kind": "billable",
            "scope": "agency",
            "hourly_rate_cents": 10_000,
            "effective_from": "2026-01-01",
        },
        headers=agency.headers,
    )
    assert response.status_code == 201, response.text
    return Books(agency, person, client_id, uuid.UUID(eur["id"]), uuid.UUID(usd["id"]), platform)


def selection(books: Books, **fields: Any) -> time_pb2.EntrySelection:
    return time_pb2.EntrySelection(client_id=str(books.client_id), **fields)


async def unbilled(
    stub: time_pb2_grpc.TimeServiceStub, books: Books, **fields: Any
) -> dict[uuid.UUID, time_pb2.BillableEntry]:
    response = await stub.ListUnbilledEntries(
        selection(books, **fields), metadata=as_caller(books.agency), timeout=10
    )
    return {uuid.UUID(e.id): e for e in response.entries}


async def reserve(
    stub: time_pb2_grpc.TimeServiceStub,
    books: Books,
    invoice_id: uuid.UUID,
    entry_ids: list[uuid.UUID] | None = None,
    **fields: Any,
) -> set[uuid.UUID]:
    response = await stub.ReserveEntries(
        time_pb2.ReserveEntriesRequest(
            invoice_id=str(invoice_id),
            selection=selection(books, **fields),
            entry_ids=[str(i) for i in entry_ids or []],
        ),
        metadata=as_caller(books.agency),
        timeout=30,
    )
    return {uuid.UUID(e.id) for e in response.entries}


def summary(entry: time_pb2.BillableEntry) -> tuple[int, str, int, str]:
    return (entry.rate_cents, entry.currency, entry.amount_cents, entry.rate_source)


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
