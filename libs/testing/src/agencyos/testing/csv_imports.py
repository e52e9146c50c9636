"""CRM's CSV import and export as tests drive them, through CRM's API (in-process or through
the gateway): a file of rows, an import started, clients and contacts read back."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Mapping
from typing import Any, Protocol

import httpx

COLUMNS = (
    "company_name",
    "industry",
    "website",
    "tags",
    "status",
    "notes",
    "contact_name",
    "contact_email",
    "contact_phone",
    "external_id",
)


class Caller(Protocol):
    """Anyone calling with a token: an `AgencySession` or an in-process `Caller`."""

    @property
    def headers(self) -> dict[str, str]: ...


def csv_file(rows: Iterable[Mapping[str, Any]], columns: Iterable[str] = COLUMNS) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), lineterminator="\r\n")
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return buffer.getvalue().encode()


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def unique(prefix: str = "Client") -> str:
    return f"{prefix} {uuid.uuid4().hex[:8]}"


async def start_import(crm: httpx.AsyncClient, who: Caller, content: bytes) -> str:
    """Upload `content`; answers the import job's id (202, Location naming the job)."""
    response = await crm.post(
        "/v1/clients/import",
        files={"file": ("clients.csv", content, "text/csv")},
        headers=who.headers,
    )
    assert response.status_code == 202, response.text
    job_id = str(response.json()["job_id"])
    assert response.headers["location"] == f"/v1/jobs/{job_id}"
    return job_id


async def all_clients(crm: httpx.AsyncClient, who: Caller, **params: Any) -> list[dict[str, Any]]:
    """Every client of the caller's agency matching `params`, all pages."""
    items: list[dict[str, Any]] = []
    page = 1
    while True:
        response = await crm.get(
            "/v1/clients", params={**params, "page": page, "per_page": 200}, headers=who.headers
        )
        assert response.status_code == 200, response.text
        body = response.json()
        items.extend(body["items"])
        if len(items) >= body["total"]:
            return items
        page += 1


async def client_by_name(crm: httpx.AsyncClient, who: Caller, name: str) -> dict[str, Any]:
    matches = [c for c in await all_clients(crm, who, q=name) if c["company_name"] == name]
    assert len(matches) == 1, matches
    return matches[0]


async def contacts_of(crm: httpx.AsyncClient, who: Caller, client_id: str) -> list[dict[str, Any]]:
    response = await crm.get(f"/v1/clients/{client_id}/contacts", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items
