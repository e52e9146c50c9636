"""A client's contacts: exactly one primary (the first, moved by naming another, never unset,
promoted on deletion, one even under concurrent changes), validation, and tenant isolation."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.inprocess import Agency, Caller


async def create_client(client: httpx.AsyncClient, who: Caller, **fields: Any) -> Any:
    body = {"company_name": f"Client {uuid.uuid4().hex[:8]}", **fields}
    response = await client.post("/v1/clients", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def add_contact(client: httpx.AsyncClient, who: Caller, client_id: str, **fields: Any) -> Any:
    fields.setdefault("name", f"Person {uuid.uuid4().hex[:6]}")
    response = await client.post(
        f"/v1/clients/{client_id}/contacts", json=fields, headers=who.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def contacts(client: httpx.AsyncClient, who: Caller, client_id: str) -> list[Any]:
    response = await client.get(f"/v1/clients/{client_id}/contacts", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


def primaries(items: list[Any]) -> list[str]:
    return [c["name"] for c in items if c["is_primary"]]


class TestPrimary:
    async def test_the_first_contact_becomes_primary_and_naming_another_moves_it(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        client = await create_client(crm, agency)
        first = await add_contact(crm, agency, client["id"], name="First")
        await add_contact(crm, agency, client["id"], name="Second")

        assert first["is_primary"] is True
        assert primaries(await contacts(crm, agency, client["id"])) == ["First"]

        await add_contact(crm, agency, client["id"], name="Third", is_primary=True)

        assert primaries(await contacts(crm, agency, client["id"])) == ["Third"]

    async def test_the_primary_cannot_be_unset_only_moved(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        client = await create_client(crm, agency)
        first = await add_contact(crm, agency, client["id"], name="First")
        second = await add_contact(crm, agency, client["id"], name="Second")
        base = f"/v1/clients/{client['id']}/contacts"

        unset = await crm.patch(
            f"{base}/{first['id']}", json={"is_primary": False}, headers=agency.headers
        )
        moved = await crm.patch(
            f"{base}/{second['id']}", json={"is_primary": True}, headers=agency.headers
        )

        assert_problem(unset, 409)
        assert moved.status_code == 200, moved.text
        assert primaries(await contacts(crm, agency, client["id"])) == ["Second"]

    async def test_deleting_the_primary_promotes_the_oldest_remaining_contact(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        client = await create_client(crm, agency)
        first = await add_contact(crm, agency, client["id"], name="First")
        await add_contact(crm, agency, client["id"], name="Second")
        await add_contact(crm, agency, client["id"], name="Third")

        response = await crm.delete(
            f"/v1/clients/{client['id']}/contacts/{first['id']}", headers=agency.headers
        )

        assert response.status_code == 204
        assert primaries(await contacts(crm, agency, client["id"])) == ["Second"]

    async def test_concurrent_primary_changes_leave_exactly_one_primary(
        self, crm: httpx.AsyncClient, agency: Caller
    ) -> None:
        client = await create_client(crm, agency)

        made = await asyncio.gather(
            *(
                crm.post(
                    f"/v1/clients/{client['id']}/contacts",
                    json={"name": f"P{i}", "is_primary": True},
                    headers=agency.headers,
                )
                for i in range(5)
            )
        )

        assert [m.status_code for m in made] == [201] * 5
        assert len(primaries(await contacts(crm, agency, client["id"]))) == 1


class TestValidation:
    @pytest.mark.parametrize(
        ("body", "field"),
        [({"email": "x@"}, "email"), ({"name": ""}, "name"), ({"phone": "call me"}, "phone")],
    )
    async def test_bad_contact_input_is_422(
        self, crm: httpx.AsyncClient, agency: Caller, body: dict[str, Any], field: str
    ) -> None:
        client = await create_client(crm, agency)
        body = {"name": "Someone", **body}

        response = await crm.post(
            f"/v1/clients/{client['id']}/contacts", json=body, headers=agency.headers
        )

        assert_invalid_fields(response, field)


class TestAccess:
    async def test_another_agency_sees_404_for_our_clients_contacts(
        self, crm: httpx.AsyncClient, agency: Caller, other_agency: Caller
    ) -> None:
        client = await create_client(crm, agency)
        contact = await add_contact(crm, agency, client["id"])
        base = f"/v1/clients/{client['id']}/contacts"

        for response in (
            await crm.get(base, headers=other_agency.headers),
            await crm.post(base, json={"name": "Mallory"}, headers=other_agency.headers),
            await crm.get(f"{base}/{contact['id']}", headers=other_agency.headers),
            await crm.patch(
                f"{base}/{contact['id']}", json={"name": "Mallory"}, headers=other_agency.headers
            ),
            await crm.delete(f"{base}/{contact['id']}", headers=other_agency.headers),
        ):
            assert_problem(response, 404)
        assert [c["name"] for c in await contacts(crm, agency, client["id"])] == [contact["name"]]

    async def test_a_member_reads_contacts_but_may_not_change_them(
        self, crm: httpx.AsyncClient, tenant: Agency, agency: Caller
    ) -> None:
        member = tenant.caller("member")
        client = await create_client(crm, agency)
        contact = await add_contact(crm, agency, client["id"], name="Ann")
        base = f"/v1/clients/{client['id']}/contacts"

        listed = await crm.get(base, headers=member.headers)
        for response in (
            await crm.post(base, json={"name": "Bob"}, headers=member.headers),
            await crm.patch(
                f"{base}/{contact['id']}", json={"name": "Bea"}, headers=member.headers
            ),
            await crm.delete(f"{base}/{contact['id']}", headers=member.headers),
        ):
            assert_problem(response, 403, "permission-denied")
        assert listed.status_code == 200, listed.text
        assert [c["name"] for c in await contacts(crm, agency, client["id"])] == ["Ann"]
