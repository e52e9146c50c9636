"""time's copy of work's projects, kept from work's events (every work.project.* event carries
the project's state), and what it saves: an invoice run asks work for its projects once (the
names on billing's lines), where it asked four times before (billing twice, time on listing
and again on reserving)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from agencyos.testing.factories import AgencySession, add_member
from agencyos.testing.infra import wait_for
from agencyos.testing.invoicing import Books, new_books
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows


async def copy_of(platform: Platform, agency: AgencySession, project_id: Any) -> Any:
    rows = await fetch_rows(
        platform.infra,
        platform.database("time"),
        "SELECT * FROM work_projects WHERE id = $1",
        uuid.UUID(str(project_id)),
        tenant_id=agency.agency_id,
    )
    return rows[0] if rows else None


async def copy_where(
    platform: Platform, agency: AgencySession, project_id: Any, **expected: Any
) -> Any:
    """The copy once it shows `expected` (work's event is relayed and consumed meanwhile)."""

    async def matches() -> Any:
        row = await copy_of(platform, agency, project_id)
        if row is not None and all(row[k] == v for k, v in expected.items()):
            return row
        return None

    return await wait_for(matches, timeout=30)


async def get_projects_calls(platform: Platform) -> float:
    """How many GetProjects calls work has answered (from its /metrics)."""
    async with httpx.AsyncClient(base_url=platform.url("work"), timeout=10) as work:
        text = (await work.get("/metrics")).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "agencyos_grpc_requests_total"
        and sample.labels.get("grpc_method", "").endswith("/GetProjects")
    )


@pytest.fixture
async def books(platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession) -> Books:
    return await new_books(platform, gateway, agency, currency="EUR")


class TestTheCopyFollowsWork:
    async def test_a_new_project_is_copied_with_its_rate_currency_and_members(
        self, platform: Platform, books: Books, agency: AgencySession
    ) -> None:
        row = await copy_where(platform, agency, books.project_id, currency="EUR")

        assert row["client_id"] == books.client_id
        assert row["billing_type"] == "hourly"
        assert row["hourly_rate_cents"] == 12_345
        assert row["status"] == "planning"
        assert list(row["member_ids"]) == [agency.user_id]

    async def test_a_changed_rate_a_new_member_and_a_new_status_reach_the_copy(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        books: Books,
        agency: AgencySession,
    ) -> None:
        await copy_where(platform, agency, books.project_id)
        member = await add_member(platform, gateway, agency, "member")
        path = f"/v1/projects/{books.project_id}"

        changed = await gateway.patch(
            path, json={"hourly_rate_cents": 20_000, "status": "active"}, headers=agency.headers
        )
        added = await gateway.post(
            f"{path}/members", json={"user_id": str(member.user_id)}, headers=agency.headers
        )

        assert changed.status_code == 200, changed.text
        assert added.status_code in (200, 201), added.text
        row = await copy_where(
            platform, agency, books.project_id, hourly_rate_cents=20_000, status="active"
        )
        row = await wait_for(
            lambda: _with_member(platform, agency, books.project_id, member.user_id), timeout=30
        )
        assert set(row["member_ids"]) == {agency.user_id, member.user_id}

    async def test_another_agency_never_sees_the_copy(
        self,
        platform: Platform,
        books: Books,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        await copy_where(platform, agency, books.project_id)

        assert await copy_of(platform, other_agency, books.project_id) is None


async def _with_member(
    platform: Platform, agency: AgencySession, project_id: Any, user_id: uuid.UUID
) -> Any:
    row = await copy_of(platform, agency, project_id)
    return row if row is not None and user_id in row["member_ids"] else None


class TestAnInvoiceRunAsksWorkOnce:
    async def test_creating_an_invoice_asks_work_for_its_projects_once(
        self, platform: Platform, books: Books, agency: AgencySession
    ) -> None:
        await copy_where(platform, agency, books.project_id)
        await books.time(3600, 1800)
        before = await get_projects_calls(platform)

        invoice = await books.draft(include=["time"])

        assert len(invoice["lines"]) == 1
        assert await get_projects_calls(platform) - before == 1

    async def test_a_project_the_copy_lacks_is_asked_of_work_and_kept(
        self, platform: Platform, books: Books, agency: AgencySession
    ) -> None:
        """A project whose events predate the copy (or have not arrived): time asks work."""
        await copy_where(platform, agency, books.project_id)
        rows = await fetch_rows(
            platform.infra,
            platform.database("time"),
            "DELETE FROM work_projects WHERE id = $1 RETURNING id",
            books.project_id,
            tenant_id=agency.agency_id,
        )
        assert len(rows) == 1
        await books.time(3600)

        invoice = await books.draft(include=["time"])

        assert [line["amount_cents"] for line in invoice["lines"]] == [12_345]
        row = await copy_of(platform, agency, books.project_id)
        assert row is not None
        assert row["currency"] == "EUR"
