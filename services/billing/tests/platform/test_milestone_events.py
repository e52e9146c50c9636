"""Milestones from work's events, through the real gateway, billing and work: a milestone
completed again after a reopen is repriced while unbilled and never billed twice (billing's
consumer of `work.milestone.completed`). (Building drafts: the in-process tier,
inprocess/invoice/test_building.py.)"""

from __future__ import annotations

from agencyos.testing.http import assert_problem
from agencyos.testing.infra import wait_for
from agencyos.testing.invoicing import Books, completed_milestone


class TestMilestones:
    async def test_completing_a_milestone_again_never_bills_it_twice(self, books: Books) -> None:
        milestone = await completed_milestone(books, amount_cents=100_000)
        url = f"/v1/milestones/{milestone}"
        headers = books.agency.headers
        # reopened with a new amount and completed again before any invoice: the new amount
        reopened = await books.gateway.patch(
            url, json={"status": "open", "amount_cents": 150_000}, headers=headers
        )
        assert reopened.status_code == 200, reopened.text
        completed = await books.gateway.patch(url, json={"status": "completed"}, headers=headers)
        assert completed.status_code == 200, completed.text

        async def repriced() -> bool:
            rows = await books.billing_rows(
                "SELECT amount_cents FROM billable_milestones WHERE milestone_id = $1", milestone
            )
            return rows[0]["amount_cents"] == 150_000

        await wait_for(repriced, timeout=30)
        invoice = await books.draft(include=["milestones"])
        assert [line["amount_cents"] for line in invoice["lines"]] == [150_000]
        # once billed, completing it yet again changes nothing and bills nothing
        for body in ({"status": "open", "amount_cents": 1}, {"status": "completed"}):
            response = await books.gateway.patch(url, json=body, headers=headers)
            assert response.status_code == 200, response.text

        async def handled_three() -> bool:
            rows = await books.billing_rows(
                "SELECT count(*) AS n FROM inbox WHERE event_type = 'work.milestone.completed'"
            )
            return rows[0]["n"] == 3

        await wait_for(handled_three, timeout=30)
        assert_problem(await books.create(include=["milestones"]), 422, "nothing-to-invoice")
        [row] = await books.billing_rows(
            "SELECT amount_cents, invoice_id FROM billable_milestones WHERE milestone_id = $1",
            milestone,
        )
        assert (row["amount_cents"], str(row["invoice_id"])) == (150_000, invoice["id"])
