"""Building draft invoices from approved time (the real time service in this process) and
billable milestones: lines and totals against hand-computed cases (tax rounding included),
grouping, selection, concurrent invoice runs that never bill an entry twice, one currency per
invoice, and time without a rate. (Milestones arriving from work's events: the platform
tier.)"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, timedelta

from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.invoicing import DAY, Books, line_figures, time_entry_ids, totals_of

MakeBooks = Callable[..., Books]
SeedMilestone = Callable[..., Awaitable[uuid.UUID]]

# Approving a week locks it: a member's later entries go in an earlier week.
WEEK_BEFORE = DAY - timedelta(days=7)
TWO_WEEKS_BEFORE = DAY - timedelta(days=14)


# --- totals ----------------------------------------------------------------------------------


class TestTotals:
    async def test_three_entries_at_one_rate_with_19_percent_tax(
        self, in_process: InProcess, books: Books, agency: Caller
    ) -> None:
        in_process.standins.identity.update_agency(agency.agency_id, default_tax_rate_bps=1900)
        # 1h20m + 45m + 2h = 4800 + 2700 + 7200 = 14,700 s = 4.083333.. h -> quantity 4.0833
        # amount = 14,700 x 12,345 / 3600 = 181,471,500 / 3600 = 50,408.75 -> 50,409 (half up)
        # tax = 50,409 x 1900 / 10,000 = 9,577.71 -> 9,578
        # total = 50,409 + 9,578 = 59,987
        entries = await books.time(4800, 2700, 7200, rate=12_345)
        invoice = await books.draft(group_by="project")

        assert invoice["status"] == "draft"
        assert invoice["number"] is None
        assert invoice["currency"] == "EUR"
        assert line_figures(invoice) == [("time", "4.0833", 12_345, 50_409, 1900, 9_578)]
        assert totals_of(invoice) == (50_409, 9_578, 59_987)
        assert sorted(time_entry_ids(invoice)) == sorted(entries)
        assert invoice["lines"][0]["project_id"] == str(books.project_id)

    async def test_half_cents_round_up_per_line_and_rates_split_lines(
        self, in_process: InProcess, books: Books, tenant: Agency
    ) -> None:
        in_process.standins.identity.update_agency(tenant.id, default_tax_rate_bps=1900)
        other = tenant.caller("member")
        in_process.standins.identity.add_member(
            tenant.id, other.user_id, role="member", name=f"Member {other.user_id.hex[:6]}"
        )
        project = in_process.standins.work.projects[(tenant.id, books.project_id)]
        project.member_ids.append(str(other.user_id))
        # owner: 30 min at 12,345 -> 1800 x 12,345 / 3600 = 6,172.5 -> 6,173 (half even: 6,172)
        #        tax 6,173 x 0.19 = 1,172.87 -> 1,173
        await books.time(1800, rate=12_345)
        # other: 10 min at 9,999 -> 600 x 9,999 / 3600 = 1,666.5 -> 1,667; tax 316.73 -> 317
        #        and 1h at 10,000 (another rate: its own line) -> 10,000; tax 1,900, a week
        #        earlier (one rate per member, project and day)
        await books.time(600, rate=9_999, member=other)
        await books.time(3600, rate=10_000, member=other, day=WEEK_BEFORE)
        invoice = await books.draft(group_by="member")

        figures = sorted(line_figures(invoice), key=lambda f: f[2])
        assert figures == [
            ("time", "0.1667", 9_999, 1_667, 1900, 317),
            ("time", "1.0000", 10_000, 10_000, 1900, 1_900),
            ("time", "0.5000", 12_345, 6_173, 1900, 1_173),
        ]
        # subtotal 6,173 + 1,667 + 10,000 = 17,840; tax 1,173 + 317 + 1,900 = 3,390
        assert totals_of(invoice) == (17_840, 3_390, 21_230)
        described = {line["unit_price_cents"]: line["description"] for line in invoice["lines"]}
        member_name = next(v for k, v in described.items() if k == 9_999)
        assert described[10_000] == member_name  # same member, two rates, two lines
        assert "Member" in member_name

    async def test_manual_lines_round_half_up_and_tax_per_line(self, books: Books) -> None:
        invoice = await books.draft(include=[])
        assert invoice["lines"] == []
        assert totals_of(invoice) == (0, 0, 0)
        url = f"/v1/invoices/{invoice['id']}/lines"
        # 1.5 x 333 = 499.5 -> 500; tax 19 %: 95
        first = await books.gateway.post(
            url,
            json={
                "description": "Fonts",
                "quantity": "1.5",
                "unit_price_cents": 333,
                "tax_rate_bps": 1900,
            },
            headers=books.agency.headers,
        )
        assert first.status_code == 201, first.text
        # 1 x 1,010 at 5 %: 50.5 -> 51
        second = await books.gateway.post(
            url,
            json={
                "description": "Hosting",
                "quantity": 1,
                "unit_price_cents": 1010,
                "tax_rate_bps": 500,
            },
            headers=books.agency.headers,
        )
        # a discount: 1 x -101 at 5 %: -5.05 -> -5
        third = await books.gateway.post(
            url,
            json={
                "description": "Discount",
                "quantity": 1,
                "unit_price_cents": -101,
                "tax_rate_bps": 500,
            },
            headers=books.agency.headers,
        )
        assert third.status_code == 201, third.text
        invoice = third.json()
        assert line_figures(invoice) == [
            ("manual", "1.5000", 333, 500, 1900, 95),
            ("manual", "1.0000", 1010, 1010, 500, 51),
            ("manual", "1.0000", -101, -101, 500, -5),
        ]
        assert [line["position"] for line in invoice["lines"]] == [1, 2, 3]
        # 500 + 1010 - 101 = 1409; 95 + 51 - 5 = 141
        assert totals_of(invoice) == (1_409, 141, 1_550)
        assert second.json()["version"] < invoice["version"]

    async def test_generated_lines_take_the_requested_tax_rate(self, books: Books) -> None:
        # 2h at 10,000 = 20,000; 7 % = 1,400
        await books.time(7200, rate=10_000)
        invoice = await books.draft(tax_rate_bps=700)
        assert line_figures(invoice) == [("time", "2.0000", 10_000, 20_000, 700, 1_400)]
        assert totals_of(invoice) == (20_000, 1_400, 21_400)


class TestGrouping:
    async def test_by_task_one_line_per_task_and_one_for_time_without_a_task(
        self, in_process: InProcess, books: Books, agency: Caller
    ) -> None:
        design = in_process.standins.work.add_task(
            agency.agency_id, books.project_id, title="Design"
        )
        build = in_process.standins.work.add_task(agency.agency_id, books.project_id, title="Build")
        await books.time(3600, 1800, task_id=design, rate=10_000)
        await books.time(900, task_id=build, rate=10_000, day=WEEK_BEFORE)
        await books.time(600, rate=10_000, day=TWO_WEEKS_BEFORE)
        invoice = await books.draft(group_by="task")
        by_description = {
            line["description"]: (line["quantity"], line["amount_cents"])
            for line in invoice["lines"]
        }
        assert len(by_description) == 3
        design_line = next(v for k, v in by_description.items() if k.startswith("Design"))
        build_line = next(v for k, v in by_description.items() if k.startswith("Build"))
        other_line = next(v for k, v in by_description.items() if "other work" in k)
        assert design_line == ("1.5000", 15_000)
        assert build_line == ("0.2500", 2_500)
        # 600 s at 10,000 = 1,666.67 -> 1,667
        assert other_line == ("0.1667", 1_667)

    async def test_by_project_splits_projects_and_names_them(
        self, in_process: InProcess, books: Books, agency: Caller
    ) -> None:
        second_id = in_process.standins.work.add_project(
            agency.agency_id,
            agency.user_id,
            client_id=books.client_id,
            currency="EUR",
            name="Second one",
        )
        second = {"id": str(second_id)}
        await books.time(3600, rate=10_000)
        await books.time(3600, rate=10_000, project_id=second_id, day=WEEK_BEFORE)
        invoice = await books.draft(group_by="project")
        assert len(invoice["lines"]) == 2
        assert {line["project_id"] for line in invoice["lines"]} == {
            str(books.project_id),
            second["id"],
        }
        assert "Second one" in {line["description"] for line in invoice["lines"]}
        assert sorted(invoice["project_ids"]) == sorted([str(books.project_id), second["id"]])

    async def test_selection_by_project_and_period(
        self, in_process: InProcess, books: Books, agency: Caller
    ) -> None:
        second = in_process.standins.work.add_project(
            agency.agency_id, agency.user_id, client_id=books.client_id, currency="EUR"
        )
        inside = await books.time(3600, day=date(2026, 11, 10))
        await books.time(3600, day=date(2026, 10, 31))
        # in the period too, but on the other project (and a week on: the week of the 10th is
        # approved)
        await books.time(3600, day=date(2026, 11, 17), project_id=second)
        invoice = await books.draft(
            project_ids=[str(books.project_id)],
            period_from="2026-11-01",
            period_to="2026-11-30",
        )
        assert time_entry_ids(invoice) == inside
        assert invoice["project_ids"] == [str(books.project_id)]
        assert (invoice["period_from"], invoice["period_to"]) == ("2026-11-01", "2026-11-30")


# --- concurrency -----------------------------------------------------------------------------


class TestConcurrentRuns:
    async def test_two_runs_for_one_client_never_bill_an_entry_twice(self, books: Books) -> None:
        entries = await books.time(*[600 + i for i in range(24)], rate=10_000)
        responses = await asyncio.gather(books.create(), books.create())
        made = [r.json() for r in responses if r.status_code == 201]
        for response in responses:
            if response.status_code != 201:
                assert_problem(response, 422, "nothing-to-invoice")
        assert made, [r.text for r in responses]
        billed = [e for invoice in made for e in time_entry_ids(invoice)]
        assert len(billed) == len(set(billed)), "an entry is on two invoices"
        assert sorted(billed) == sorted(entries)
        # time agrees: each entry is held by the invoice whose line bills it
        holders = {e: uuid.UUID(i["id"]) for i in made for e in time_entry_ids(i)}
        rows = await books.time_rows(entries)
        assert {e: rows[e]["invoice_id"] for e in entries} == holders

    async def test_a_later_run_finds_nothing_left(self, books: Books) -> None:
        await books.time(3600)
        await books.draft()
        response = await books.create()
        body = assert_problem(response, 422, "nothing-to-invoice")
        assert "include" in body["detail"]


# --- currency --------------------------------------------------------------------------------


class TestCurrencyAndRates:
    async def test_time_in_another_currency_is_refused_naming_it_and_nothing_is_reserved(
        self, in_process: InProcess, books: Books, agency: Caller
    ) -> None:
        # time is in the currency of the project it is logged on: the client's dollar project
        dollar_project = in_process.standins.work.add_project(
            agency.agency_id,
            agency.user_id,
            client_id=books.client_id,
            billing_type="hourly",
            currency="USD",
        )
        await books.time(3600, currency="EUR")
        [dollars] = await books.time(
            1800, currency="USD", project_id=dollar_project, day=WEEK_BEFORE
        )
        response = await books.create()
        body = assert_problem(response, 422, "currency-mismatch")
        assert body["mismatched"] == [{"kind": "time_entry", "id": str(dollars), "currency": "USD"}]
        assert str(dollars) in body["detail"]
        rows = await books.time_rows([dollars])
        assert rows[dollars]["invoice_id"] is None
        # a run in dollars is refused the same way: now the euro hour is the foreign one
        usd = await books.create(currency="USD")
        body = assert_problem(usd, 422, "currency-mismatch")
        assert body["mismatched"][0]["currency"] == "EUR"

    async def test_time_without_a_rate_is_refused_naming_it(
        self, in_process: InProcess, books: Books, agency: Caller
    ) -> None:
        unpriced_project = in_process.standins.work.add_project(
            agency.agency_id,
            agency.user_id,
            client_id=books.client_id,
            billing_type="hourly",
            currency="EUR",
        )
        await books.time(3600)
        # no rate in work or time for that project: approved without one
        [unpriced] = await books.time(1800, rate=None, project_id=unpriced_project, day=WEEK_BEFORE)
        response = await books.create()
        body = assert_problem(response, 422, "unpriced-time")
        assert body["unpriced"] == [{"kind": "time_entry", "id": str(unpriced)}]
        rows = await books.time_rows([unpriced])
        assert rows[unpriced]["invoice_id"] is None
        priced_only = await books.draft(project_ids=[str(books.project_id)])
        assert priced_only["total_cents"] == 12_345

    async def test_currency_defaults_to_the_clients_and_can_be_named(
        self, make_books: MakeBooks, agency: Caller
    ) -> None:
        books = make_books(agency, currency="CHF")
        await books.time(3600, currency="CHF", rate=20_000)
        invoice = await books.draft()
        assert invoice["currency"] == "CHF"
        assert invoice["total_cents"] == 20_000
        other = await books.draft(include=[], currency="GBP")
        assert other["currency"] == "GBP"


# --- milestones ------------------------------------------------------------------------------


class TestMilestones:
    async def test_a_completed_milestone_is_billed_once_with_tax(
        self, in_process: InProcess, books: Books, agency: Caller, seed_milestone: SeedMilestone
    ) -> None:
        in_process.standins.identity.update_agency(agency.agency_id, default_tax_rate_bps=2000)
        milestone = await seed_milestone(books, amount_cents=250_001)
        invoice = await books.draft(include=["milestones"])
        # 250,001 x 20 % = 50,000.2 -> 50,000
        assert line_figures(invoice) == [("milestone", "1.0000", 250_001, 250_001, 2000, 50_000)]
        assert invoice["lines"][0]["milestone_id"] == str(milestone)
        assert totals_of(invoice) == (250_001, 50_000, 300_001)
        again = await books.create(include=["milestones"])
        assert_problem(again, 422, "nothing-to-invoice")

    async def test_time_and_milestones_on_one_invoice(
        self, books: Books, seed_milestone: SeedMilestone
    ) -> None:
        await seed_milestone(books, amount_cents=100_000)
        await books.time(3600, rate=10_000)
        invoice = await books.draft()
        assert sorted(line["source_type"] for line in invoice["lines"]) == ["milestone", "time"]
        assert invoice["subtotal_cents"] == 110_000

    async def test_removing_a_milestone_line_frees_the_milestone(
        self, books: Books, seed_milestone: SeedMilestone
    ) -> None:
        milestone = await seed_milestone(books)
        invoice = await books.draft(include=["milestones"])
        [line] = invoice["lines"]
        response = await books.gateway.delete(
            f"/v1/invoices/{invoice['id']}/lines/{line['id']}", headers=books.agency.headers
        )
        assert response.status_code == 200, response.text
        assert response.json()["lines"] == []
        assert totals_of(response.json()) == (0, 0, 0)
        later = await books.draft(include=["milestones"])
        assert later["lines"][0]["milestone_id"] == str(milestone)

    async def test_a_milestone_in_another_currency_is_refused(
        self, in_process: InProcess, books: Books, agency: Caller, seed_milestone: SeedMilestone
    ) -> None:
        usd = in_process.standins.work.add_project(
            agency.agency_id, agency.user_id, client_id=books.client_id, currency="USD"
        )
        # as billing records it from work's event: in the project's currency
        milestone = await seed_milestone(books, project_id=usd, currency="USD")
        response = await books.create(include=["milestones"])
        body = assert_problem(response, 422, "currency-mismatch")
        assert body["mismatched"] == [
            {"kind": "milestone", "id": str(milestone), "currency": "USD"}
        ]
        rows = await books.billing_rows(
            "SELECT invoice_id FROM billable_milestones WHERE milestone_id = $1", milestone
        )
        assert rows[0]["invoice_id"] is None
