"""What time's invoicing gRPC (`invoicing/service.py`, as billing calls it) answers as
unbilled: only approved, billable, unheld time of the client, valued by the most specific rate
(or the value frozen on the entry), rounded half up, and narrowed by projects, period and
currency. Time's own servicers in this process; projects and clients on the stand-ins."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

import httpx

from agencyos.protos.time.v1 import time_pb2_grpc
from agencyos.testing.inprocess import Agency, InProcess
from agencyos.testing.time_invoicing import DAY, Books, reserve, summary, unbilled


class TestListUnbilledEntries:
    async def test_only_approved_billable_unheld_time_of_the_client_with_its_value(
        self,
        in_process: InProcess,
        tenant: Agency,
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
        other_client = in_process.standins.crm.add_client(tenant.id)
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
        time_api: httpx.AsyncClient,
        stub: time_pb2_grpc.TimeServiceStub,
        books: Books,
    ) -> None:
        response = await time_api.post(
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
