"""Arranging invoices in tests: a client with billable projects, approved time logged and
approved through time's API (as people do), drafts made and sent through billing's API, and
the rows time and billing hold about them."""

from __future__ import annotations

import re
import uuid
import zlib
from dataclasses import dataclass
from datetime import date
from typing import Any

import asyncpg
import httpx

from agencyos.testing.factories import AgencySession, new_project
from agencyos.testing.infra import wait_for
from agencyos.testing.platform import Platform
from agencyos.testing.sql import fetch_rows

DAY = date(2026, 11, 16)


@dataclass
class Books:
    """One agency's client with a billable project, and what tests do with them."""

    platform: Platform
    gateway: httpx.AsyncClient
    agency: AgencySession
    client_id: uuid.UUID
    project_id: uuid.UUID
    currency: str
    # time's API: the gateway unless told (in-process, time's own app)
    time_api: httpx.AsyncClient | None = None

    async def time(
        self,
        *durations: int,
        rate: int | None = 12_345,
        currency: str | None = None,
        member: AgencySession | None = None,
        project_id: uuid.UUID | None = None,
        day: date = DAY,
        task_id: uuid.UUID | None = None,
    ) -> list[uuid.UUID]:
        """Approved billable entries of these durations (seconds) on `day`, their rate frozen,
        made the way people make them, through time's API: `member` (default: the agency's
        owner) logs them and submits their week, the owner approves it.

        `rate` is the billable rate they must be approved at: when time would resolve
        another one for that member, project and day, a billable rate of the member on the
        project takes effect that day (`POST /v1/rates`); None means no rate at all applies.
        `currency`, when given, must be the project's (time freezes the project's currency on
        approval). Approval locks the member's week, so later entries of theirs go in
        another week; two rates for one member, project and day cannot both apply."""
        who = member or self.agency
        project = project_id or self.project_id
        await self._price(who.user_id, project, day, rate, currency)
        entry_ids = [await self._log(who, project, day, seconds, task_id) for seconds in durations]
        await self._approve_week(who, day)
        return entry_ids

    @property
    def _time(self) -> httpx.AsyncClient:
        return self.time_api or self.gateway

    async def _price(
        self,
        user_id: uuid.UUID,
        project_id: uuid.UUID,
        day: date,
        rate: int | None,
        currency: str | None,
    ) -> None:
        where = {"user_id": str(user_id), "project_id": str(project_id), "date": day.isoformat()}
        resolved = await self._time.get(
            "/v1/rates/resolve", params=where, headers=self.agency.headers
        )
        assert resolved.status_code == 200, resolved.text
        resolution = resolved.json()
        assert currency in (None, resolution["currency"]), (
            f"time bills this project in {resolution['currency']}, not {currency}: log the "
            "time on a project in that currency"
        )
        applies = resolution["billable"]["hourly_rate_cents"]
        if applies == rate:
            return
        assert rate is not None, f"a billable rate of {applies} applies on {day}: {resolution}"
        created = await self._time.post(
            "/v1/rates",
            json={
                "kind": "billable",
                "scope": "project_member",
                "user_id": str(user_id),
                "project_id": str(project_id),
                "hourly_rate_cents": rate,
                "effective_from": day.isoformat(),
            },
            headers=self.agency.headers,
        )
        assert created.status_code == 201, (
            f"a rate of {rate} for this member and project from {day}: {created.text} (another "
            "rate already starts that day: log this time on another day or by another member)"
        )

    async def _log(
        self,
        who: AgencySession,
        project_id: uuid.UUID,
        day: date,
        seconds: int,
        task_id: uuid.UUID | None,
    ) -> uuid.UUID:
        body: dict[str, Any] = {
            "project_id": str(project_id),
            "date": day.isoformat(),
            "duration_seconds": seconds,
            "is_billable": True,
        }
        if task_id is not None:
            body["task_id"] = str(task_id)
        response = await self._time.post("/v1/time-entries", json=body, headers=who.headers)
        assert response.status_code == 201, (
            f"logging {seconds}s on {day}: {response.text} (a week already approved takes no "
            "more time: log it in another week)"
        )
        [entry] = response.json()["entries"]
        return uuid.UUID(entry["id"])

    async def _approve_week(self, who: AgencySession, day: date) -> None:
        year, week, _ = day.isocalendar()
        sheet = await self._time.get(
            "/v1/timesheets", params={"week": f"{year}-W{week:02d}"}, headers=who.headers
        )
        assert sheet.status_code == 200, sheet.text
        base = f"/v1/timesheets/{sheet.json()['id']}"
        submitted = await self._time.post(f"{base}/submit", headers=who.headers)
        assert submitted.status_code == 200, submitted.text
        approved = await self._time.post(f"{base}/approve", headers=self.agency.headers)
        assert approved.status_code == 200, approved.text
        assert {e["status"] for e in approved.json()["entries"]} == {"approved"}, approved.text

    async def draft(self, **body: Any) -> dict[str, Any]:
        response = await self.create(**body)
        assert response.status_code == 201, response.text
        invoice: dict[str, Any] = response.json()
        return invoice

    async def create(self, who: AgencySession | None = None, **body: Any) -> httpx.Response:
        return await self.gateway.post(
            "/v1/invoices",
            json={"client_id": str(self.client_id), **body},
            headers=(who or self.agency).headers,
        )

    async def manual_draft(self, *prices: int, quantity: str = "1", **body: Any) -> dict[str, Any]:
        """An empty draft with one manual line per price (no tax unless the agency has one)."""
        invoice = await self.draft(include=[], **body)
        for price in prices:
            response = await self.gateway.post(
                f"/v1/invoices/{invoice['id']}/lines",
                json={
                    "description": f"Item {price}",
                    "quantity": quantity,
                    "unit_price_cents": price,
                },
                headers=self.agency.headers,
            )
            assert response.status_code == 201, response.text
            invoice = response.json()
        return invoice

    async def send(self, invoice_id: str | uuid.UUID) -> httpx.Response:
        return await self.gateway.post(
            f"/v1/invoices/{invoice_id}/send", headers=self.agency.headers
        )

    async def sent(self, invoice_id: str | uuid.UUID) -> dict[str, Any]:
        response = await self.send(invoice_id)
        assert response.status_code == 200, response.text
        invoice: dict[str, Any] = response.json()
        return invoice

    async def time_rows(self, entry_ids: list[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
        rows = await fetch_rows(
            self.platform.infra,
            self.platform.database("time"),
            "SELECT id, invoice_id, status FROM time_entries WHERE id = ANY($1)",
            entry_ids,
            tenant_id=self.agency.agency_id,
        )
        return {r["id"]: r for r in rows}

    async def billing_rows(self, query: str, *args: Any) -> list[asyncpg.Record]:
        return await fetch_rows(
            self.platform.infra,
            self.platform.database("billing"),
            query,
            *args,
            tenant_id=self.agency.agency_id,
        )


async def new_client(
    gateway: httpx.AsyncClient, who: AgencySession, *, currency: str = "EUR", **fields: Any
) -> uuid.UUID:
    response = await gateway.post(
        "/v1/clients",
        json={"company_name": f"Client {uuid.uuid4().hex[:8]}", "currency": currency, **fields},
        headers=who.headers,
    )
    assert response.status_code == 201, response.text
    return uuid.UUID(response.json()["id"])


async def new_books(
    platform: Platform,
    gateway: httpx.AsyncClient,
    agency: AgencySession,
    *,
    currency: str = "EUR",
    **client_fields: Any,
) -> Books:
    client_id = await new_client(gateway, agency, currency=currency, **client_fields)
    project = await new_project(
        gateway,
        agency,
        client_id=str(client_id),
        billing_type="hourly",
        hourly_rate_cents=12_345,
        currency=currency,
    )
    return Books(platform, gateway, agency, client_id, uuid.UUID(project["id"]), currency)


def time_entry_ids(invoice: dict[str, Any]) -> list[uuid.UUID]:
    """Every time entry the invoice's lines bill (with repeats, if a bug made any)."""
    return [
        uuid.UUID(e)
        for line in invoice["lines"]
        if line["source_type"] == "time"
        for e in line["time_entry_ids"]
    ]


def line_figures(invoice: dict[str, Any]) -> list[tuple[str, str, int, int, int, int]]:
    """Each line as (source, quantity, unit price, amount, tax rate, tax)."""
    return [
        (
            line["source_type"],
            line["quantity"],
            line["unit_price_cents"],
            line["amount_cents"],
            line["tax_rate_bps"],
            line["tax_cents"],
        )
        for line in invoice["lines"]
    ]


def totals_of(invoice: dict[str, Any]) -> tuple[int, int, int]:
    return invoice["subtotal_cents"], invoice["tax_cents"], invoice["total_cents"]


async def completed_milestone(
    books: Books, *, amount_cents: int = 250_000, project_id: uuid.UUID | None = None
) -> uuid.UUID:
    """A milestone of the books' project (or `project_id`), completed in work, once billing
    has it as billable."""
    project = project_id or books.project_id
    created = await books.gateway.post(
        f"/v1/projects/{project}/milestones",
        json={"name": f"Design approved {uuid.uuid4().hex[:4]}", "amount_cents": amount_cents},
        headers=books.agency.headers,
    )
    assert created.status_code == 201, created.text
    milestone_id = uuid.UUID(created.json()["id"])
    done = await books.gateway.post(
        f"/v1/milestones/{milestone_id}/complete", headers=books.agency.headers
    )
    assert done.status_code == 200, done.text

    async def arrived() -> bool:
        rows = await books.billing_rows(
            "SELECT 1 FROM billable_milestones WHERE milestone_id = $1", milestone_id
        )
        return bool(rows)

    await wait_for(arrived, timeout=30)
    return milestone_id


_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\nendstream", re.DOTALL)


def pdf_text(document: bytes) -> bytes:
    """The PDF's content streams, inflated where they are compressed (FlateDecode), joined:
    enough to find the text a core-font PDF shows (strings appear as written)."""
    parts = []
    for raw in _STREAM.findall(document):
        try:
            parts.append(zlib.decompress(raw))
        except zlib.error:
            parts.append(raw)
    return b"\n".join(parts)
