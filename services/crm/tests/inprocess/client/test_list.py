"""Listing clients: paging, the status filter, search (company names, contact names and emails,
ignoring case), the other filters combined, and sorting."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields
from agencyos.testing.inprocess import Caller


async def create_client(client: httpx.AsyncClient, who: Caller, **fields: Any) -> dict[str, Any]:
    body = {"company_name": f"Client {uuid.uuid4().hex[:8]}", **fields}
    response = await client.post("/v1/clients", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def add_contact(
    client: httpx.AsyncClient, who: Caller, client_id: str, **fields: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/v1/clients/{client_id}/contacts", json=fields, headers=who.headers
    )
    assert response.status_code == 201, response.text
    contact: dict[str, Any] = response.json()
    return contact


async def list_clients(client: httpx.AsyncClient, who: Caller, **params: Any) -> dict[str, Any]:
    response = await client.get("/v1/clients", params=params, headers=who.headers)
    assert response.status_code == 200, response.text
    page: dict[str, Any] = response.json()
    return page


async def search(client: httpx.AsyncClient, who: Caller, query: str) -> list[str]:
    response = await client.get(f"/v1/clients?{query}", headers=who.headers)
    assert response.status_code == 200, response.text
    return [c["company_name"] for c in response.json()["items"]]


class TestPagination:
    async def test_pages_split_the_clients_with_the_total_on_every_page(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        created = [await create_client(crm, agency) for _ in range(5)]

        pages = [await list_clients(crm, agency, page=p, per_page=2) for p in (1, 2, 3)]

        assert [len(p["items"]) for p in pages] == [2, 2, 1]
        assert [(p["total"], p["page"], p["per_page"]) for p in pages] == [
            (5, 1, 2),
            (5, 2, 2),
            (5, 3, 2),
        ]
        seen = [item["id"] for p in pages for item in p["items"]]
        assert len(seen) == len(set(seen))
        assert set(seen) == {c["id"] for c in created}

    async def test_the_newest_client_comes_first(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        first = await create_client(crm, agency)
        second = await create_client(crm, agency)

        page = await list_clients(crm, agency)

        assert [c["id"] for c in page["items"]] == [second["id"], first["id"]]

    async def test_a_page_past_the_end_is_empty_but_keeps_the_total(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        await create_client(crm, agency)

        page = await list_clients(crm, agency, page=3, per_page=10)

        assert page == {"items": [], "total": 1, "page": 3, "per_page": 10}

    async def test_the_default_page_size_is_50(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        page = await list_clients(crm, agency)

        assert (page["page"], page["per_page"]) == (1, 50)

    async def test_200_per_page_is_allowed(self, crm: httpx.AsyncClient, agency: Caller) -> None:
        page = await list_clients(crm, agency, per_page=200)

        assert page["per_page"] == 200

    @pytest.mark.parametrize(
        ("params", "field"),
        [
            pytest.param({"per_page": 201}, "query.per_page", id="per-page-above-200"),
            pytest.param({"per_page": 0}, "query.per_page", id="per-page-zero"),
            pytest.param({"page": 0}, "query.page", id="page-zero"),
            pytest.param({"page": "two"}, "query.page", id="page-not-a-number"),
        ],
    )
    async def test_out_of_range_paging_is_a_422_problem_naming_the_parameter(
        self, crm: httpx.AsyncClient, agency: Caller, params: dict[str, Any], field: str
    ) -> None:
        response = await crm.get("/v1/clients", params=params, headers=agency.headers)

        assert_invalid_fields(response, field)

    async def test_an_absurd_page_number_is_422_not_a_database_error(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await crm.get(f"/v1/clients?page={10**15}", headers=agency.headers)

        assert_invalid_fields(response, "query.page")


class TestStatusFilter:
    async def test_the_status_filter_lists_only_clients_in_that_status(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        active = await create_client(crm, agency, status="active")
        await create_client(crm, agency, status="lead")
        archived = await create_client(crm, agency, status="archived")

        only_active = await list_clients(crm, agency, status="active")
        only_archived = await list_clients(crm, agency, status="archived")
        only_inactive = await list_clients(crm, agency, status="inactive")

        assert [c["id"] for c in only_active["items"]] == [active["id"]]
        assert only_active["total"] == 1
        assert [c["id"] for c in only_archived["items"]] == [archived["id"]]
        assert only_inactive["total"] == 0

    async def test_an_unknown_status_is_a_422_problem_naming_it(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        response = await crm.get("/v1/clients", params={"status": "vip"}, headers=agency.headers)

        assert_invalid_fields(response, "query.status")


class TestSearch:
    async def test_q_finds_company_names_contact_names_and_emails_ignoring_case(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        tag = uuid.uuid4().hex[:6]
        by_name = await create_client(crm, agency, company_name=f"Globex {tag} GmbH")
        by_contact = await create_client(crm, agency, company_name=f"Initech {tag}")
        await add_contact(crm, agency, by_contact["id"], name=f"Peter Gibbons{tag}")
        by_email = await create_client(crm, agency, company_name=f"Hooli {tag}")
        await add_contact(
            crm, agency, by_email["id"], name="Gavin", email=f"gavin.{tag}@hooli.example"
        )

        assert await search(crm, agency, f"q=GLOBEX%20{tag.upper()}") == [by_name["company_name"]]
        assert await search(crm, agency, f"q=gibbons{tag}") == [by_contact["company_name"]]
        assert await search(crm, agency, f"q=gavin.{tag}@HOOLI") == [by_email["company_name"]]

    async def test_a_renamed_contact_is_found_by_its_new_name_only(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        tag = uuid.uuid4().hex[:6]
        client = await create_client(crm, agency)
        contact = await add_contact(crm, agency, client["id"], name=f"Old{tag}")

        renamed = await crm.patch(
            f"/v1/clients/{client['id']}/contacts/{contact['id']}",
            json={"name": f"New{tag}"},
            headers=agency.headers,
        )

        assert renamed.status_code == 200, renamed.text
        assert await search(crm, agency, f"q=old{tag}") == []
        assert await search(crm, agency, f"q=new{tag}") == [client["company_name"]]

    async def test_wildcards_in_q_are_taken_literally(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        await create_client(crm, agency, company_name="Plain Name Ltd")

        assert await search(crm, agency, "q=%25") == []
        assert await search(crm, agency, "q=_") == []

    async def test_another_agencys_clients_never_match(
        self, crm: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        tag = uuid.uuid4().hex[:8]
        await create_client(crm, other_agency, company_name=f"Secret {tag}")

        assert await search(crm, agency, f"q={tag}") == []


class TestFiltersAndSort:
    async def test_tag_industry_status_and_owner_filters_combine(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        wanted = await create_client(
            crm,
            agency,
            company_name="A",
            tags=["vip", "emea"],
            industry="Retail",
            status="active",
        )
        await create_client(crm, agency, company_name="B", tags=["vip"], industry="Retail")
        await create_client(crm, agency, company_name="C", tags=["emea"], status="active")

        names = await search(crm, agency, "tag=vip&industry=retail&status=active")

        assert names == [wanted["company_name"]]
        assert await search(crm, agency, f"owner_id={agency.user_id}&tag=emea") == ["C", "A"]

    @pytest.mark.parametrize(
        ("sort", "expected"),
        [
            ("company_name", ["alpha", "Bravo", "charlie"]),
            ("-company_name", ["charlie", "Bravo", "alpha"]),
            ("created_at", ["Bravo", "alpha", "charlie"]),
            ("-created_at", ["charlie", "alpha", "Bravo"]),
        ],
    )
    async def test_sorts(
        self, crm: httpx.AsyncClient, agency: Caller, sort: str, expected: list[str]
    ) -> None:
        for name in ("Bravo", "alpha", "charlie"):
            await create_client(crm, agency, company_name=name)

        assert await search(crm, agency, f"sort={sort}") == expected

    async def test_an_unknown_sort_is_422(self, crm: httpx.AsyncClient, agency: Caller) -> None:
        response = await crm.get("/v1/clients?sort=password", headers=agency.headers)

        assert_invalid_fields(response, "query.sort")
