"""Client updates and deletion, contacts (exactly one primary) and the timeline, through the
gateway; plus the timeline and revenue written from billing's invoice events."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from agencyos.common.events import InvoicePaid, InvoiceSent, build_event
from agencyos.testing.factories import AgencySession, add_member
from agencyos.testing.http import assert_invalid_fields, assert_problem
from agencyos.testing.kafka import events_where, read_to_end, read_topic, topic_writer
from agencyos.testing.platform import Platform


async def create_client(gateway: httpx.AsyncClient, who: AgencySession, **fields: Any) -> Any:
    body = {"company_name": f"Client {uuid.uuid4().hex[:8]}", **fields}
    response = await gateway.post("/v1/clients", json=body, headers=who.headers)
    assert response.status_code == 201, response.text
    return response.json()


async def add_contact(
    gateway: httpx.AsyncClient, who: AgencySession, client_id: str, **fields: Any
) -> Any:
    fields.setdefault("name", f"Person {uuid.uuid4().hex[:6]}")
    response = await gateway.post(
        f"/v1/clients/{client_id}/contacts", json=fields, headers=who.headers
    )
    assert response.status_code == 201, response.text
    return response.json()


async def contacts(gateway: httpx.AsyncClient, who: AgencySession, client_id: str) -> list[Any]:
    response = await gateway.get(f"/v1/clients/{client_id}/contacts", headers=who.headers)
    assert response.status_code == 200, response.text
    items: list[Any] = response.json()["items"]
    return items


def primaries(items: list[Any]) -> list[str]:
    return [c["name"] for c in items if c["is_primary"]]


async def timeline(
    gateway: httpx.AsyncClient, who: AgencySession, client_id: str, query: str = ""
) -> Any:
    response = await gateway.get(f"/v1/clients/{client_id}/timeline{query}", headers=who.headers)
    assert response.status_code == 200, response.text
    return response.json()


class TestUpdatingClients:
    async def test_patch_changes_only_the_fields_sent_and_publishes_the_change(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client = await create_client(gateway, agency, industry="Retail", tags=["a"])

        response = await gateway.patch(
            f"/v1/clients/{client['id']}",
            json={"status": "active", "tags": ["a", "b"], "country": "DE", "industry": None},
            headers=agency.headers,
        )

        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["status"], body["tags"], body["country"], body["industry"]) == (
            "active",
            ["a", "b"],
            "DE",
            None,
        )
        assert body["company_name"] == client["company_name"]
        records = await read_topic(
            platform.infra.kafka_bootstrap,
            f"{platform.topic_prefix}crm.events",
            lambda rs: bool(
                events_where(rs, type="crm.client.updated", subject=f"clients/{client['id']}")
            ),
        )
        (event,) = events_where(
            records, type="crm.client.updated", subject=f"clients/{client['id']}"
        )
        assert event["data"]["changed_fields"] == ["country", "industry", "status", "tags"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"company_name": None}, "company_name"),
            ({"company_name": "  "}, "company_name"),
            ({"country": "Germany"}, "country"),
            ({"currency": "euro"}, "currency"),
            ({"website": "not a url"}, "website"),
            ({"tags": ["x" * 51]}, "tags.0"),
            ({"owner_id": str(uuid.uuid4())}, "owner_id"),
            ({"colour": "red"}, "colour"),
        ],
    )
    async def test_bad_input_is_422_naming_the_field(
        self, gateway: httpx.AsyncClient, agency: AgencySession, body: dict[str, Any], field: str
    ) -> None:
        client = await create_client(gateway, agency)

        response = await gateway.patch(
            f"/v1/clients/{client['id']}", json=body, headers=agency.headers
        )

        assert_invalid_fields(response, field)

    async def test_two_clients_cannot_share_an_external_id(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        await create_client(gateway, agency, external_id="ERP-1")
        other = await create_client(gateway, agency)

        response = await gateway.patch(
            f"/v1/clients/{other['id']}", json={"external_id": "ERP-1"}, headers=agency.headers
        )

        assert_problem(response, 409)

    async def test_a_member_reads_but_cannot_change_clients(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        member = await add_member(platform, gateway, agency, "member")
        client = await create_client(gateway, agency)

        read = await gateway.get(f"/v1/clients/{client['id']}", headers=member.headers)
        patched = await gateway.patch(
            f"/v1/clients/{client['id']}", json={"status": "active"}, headers=member.headers
        )
        deleted = await gateway.delete(f"/v1/clients/{client['id']}", headers=member.headers)

        assert read.status_code == 200
        assert_problem(patched, 403)
        assert_problem(deleted, 403)


class TestDeletingClients:
    async def test_a_client_without_history_is_deleted_with_its_contacts(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client = await create_client(gateway, agency)
        await add_contact(gateway, agency, client["id"])

        response = await gateway.delete(f"/v1/clients/{client['id']}", headers=agency.headers)

        assert response.json() == {"outcome": "deleted", "client": None}
        assert_problem(
            await gateway.get(f"/v1/clients/{client['id']}", headers=agency.headers), 404
        )

    async def test_a_client_with_history_is_archived_instead(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client = await create_client(gateway, agency)
        await gateway.post(
            f"/v1/clients/{client['id']}/timeline",
            json={"kind": "note", "title": "Met at a fair"},
            headers=agency.headers,
        )

        response = await gateway.delete(f"/v1/clients/{client['id']}", headers=agency.headers)

        assert response.json()["outcome"] == "archived"
        kept = await gateway.get(f"/v1/clients/{client['id']}", headers=agency.headers)
        assert kept.json()["status"] == "archived"
        assert (await timeline(gateway, agency, client["id"]))["total"] == 1


class TestContacts:
    async def test_the_first_contact_becomes_primary_and_naming_another_moves_it(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client = await create_client(gateway, agency)
        first = await add_contact(gateway, agency, client["id"], name="First")
        await add_contact(gateway, agency, client["id"], name="Second")

        assert first["is_primary"] is True
        assert primaries(await contacts(gateway, agency, client["id"])) == ["First"]

        await add_contact(gateway, agency, client["id"], name="Third", is_primary=True)

        assert primaries(await contacts(gateway, agency, client["id"])) == ["Third"]

    async def test_the_primary_cannot_be_unset_only_moved(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client = await create_client(gateway, agency)
        first = await add_contact(gateway, agency, client["id"], name="First")
        second = await add_contact(gateway, agency, client["id"], name="Second")
        base = f"/v1/clients/{client['id']}/contacts"

        unset = await gateway.patch(
            f"{base}/{first['id']}", json={"is_primary": False}, headers=agency.headers
        )
        moved = await gateway.patch(
            f"{base}/{second['id']}", json={"is_primary": True}, headers=agency.headers
        )

        assert_problem(unset, 409)
        assert moved.status_code == 200, moved.text
        assert primaries(await contacts(gateway, agency, client["id"])) == ["Second"]

    async def test_deleting_the_primary_promotes_the_oldest_remaining_contact(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client = await create_client(gateway, agency)
        first = await add_contact(gateway, agency, client["id"], name="First")
        await add_contact(gateway, agency, client["id"], name="Second")
        await add_contact(gateway, agency, client["id"], name="Third")

        response = await gateway.delete(
            f"/v1/clients/{client['id']}/contacts/{first['id']}", headers=agency.headers
        )

        assert response.status_code == 204
        assert primaries(await contacts(gateway, agency, client["id"])) == ["Second"]

    async def test_concurrent_primary_changes_leave_exactly_one_primary(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client = await create_client(gateway, agency)

        made = await asyncio.gather(
            *(
                gateway.post(
                    f"/v1/clients/{client['id']}/contacts",
                    json={"name": f"P{i}", "is_primary": True},
                    headers=agency.headers,
                )
                for i in range(5)
            )
        )

        assert [m.status_code for m in made] == [201] * 5
        assert len(primaries(await contacts(gateway, agency, client["id"]))) == 1

    @pytest.mark.parametrize(
        ("body", "field"),
        [({"email": "x@"}, "email"), ({"name": ""}, "name"), ({"phone": "call me"}, "phone")],
    )
    async def test_bad_contact_input_is_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession, body: dict[str, Any], field: str
    ) -> None:
        client = await create_client(gateway, agency)
        body = {"name": "Someone", **body}

        response = await gateway.post(
            f"/v1/clients/{client['id']}/contacts", json=body, headers=agency.headers
        )

        assert_invalid_fields(response, field)

    async def test_another_agency_sees_404_for_our_clients_contacts(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        client = await create_client(gateway, agency)
        contact = await add_contact(gateway, agency, client["id"])
        base = f"/v1/clients/{client['id']}/contacts"

        for response in (
            await gateway.get(base, headers=other_agency.headers),
            await gateway.post(base, json={"name": "Mallory"}, headers=other_agency.headers),
            await gateway.get(f"{base}/{contact['id']}", headers=other_agency.headers),
            await gateway.patch(
                f"{base}/{contact['id']}", json={"name": "Mallory"}, headers=other_agency.headers
            ),
            await gateway.delete(f"{base}/{contact['id']}", headers=other_agency.headers),
        ):
            assert_problem(response, 404)
        assert [c["name"] for c in await contacts(gateway, agency, client["id"])] == [
            contact["name"]
        ]


class TestTimeline:
    async def test_logged_entries_come_newest_first_and_move_last_activity(
        self, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client = await create_client(gateway, agency)
        now = datetime.now(UTC)
        for kind, hours_ago in (("call", 3), ("meeting", 1), ("note", 2)):
            response = await gateway.post(
                f"/v1/clients/{client['id']}/timeline",
                json={
                    "kind": kind,
                    "title": f"A {kind}",
                    "occurred_at": (now - timedelta(hours=hours_ago)).isoformat(),
                },
                headers=agency.headers,
            )
            assert response.status_code == 201, response.text

        page = await timeline(gateway, agency, client["id"])

        assert [e["kind"] for e in page["items"]] == ["meeting", "note", "call"]
        assert page["items"][0]["actor_id"] == str(agency.user_id)
        refreshed = await gateway.get(f"/v1/clients/{client['id']}", headers=agency.headers)
        last = datetime.fromisoformat(refreshed.json()["last_activity_at"])
        assert abs(last - (now - timedelta(hours=1))) < timedelta(seconds=1)
        only_calls = await timeline(gateway, agency, client["id"], "?kind=call")
        assert [e["kind"] for e in only_calls["items"]] == ["call"]

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"kind": "deal_won", "title": "Forged"}, "kind"),
            ({"kind": "note", "title": ""}, "title"),
            (
                {"kind": "note", "title": "Later", "occurred_at": "2099-01-01T00:00:00Z"},
                "occurred_at",
            ),
            (
                {"kind": "note", "title": "Naive", "occurred_at": "2026-01-01T00:00:00"},
                "occurred_at",
            ),
        ],
    )
    async def test_bad_entries_are_422(
        self, gateway: httpx.AsyncClient, agency: AgencySession, body: dict[str, Any], field: str
    ) -> None:
        client = await create_client(gateway, agency)

        response = await gateway.post(
            f"/v1/clients/{client['id']}/timeline", json=body, headers=agency.headers
        )

        assert_invalid_fields(response, field)

    async def test_another_agency_cannot_read_or_write_our_timeline(
        self, gateway: httpx.AsyncClient, agency: AgencySession, other_agency: AgencySession
    ) -> None:
        client = await create_client(gateway, agency)
        url = f"/v1/clients/{client['id']}/timeline"

        assert_problem(await gateway.get(url, headers=other_agency.headers), 404)
        assert_problem(
            await gateway.post(
                url, json={"kind": "note", "title": "Hi"}, headers=other_agency.headers
            ),
            404,
        )


class TestInvoiceEvents:
    async def test_sent_and_paid_invoices_reach_the_timeline_and_revenue_once(
        self, platform: Platform, gateway: httpx.AsyncClient, agency: AgencySession
    ) -> None:
        client = await create_client(gateway, agency, currency="EUR")
        client_id = uuid.UUID(client["id"])
        invoice_id = uuid.uuid4()
        sent = build_event(
            InvoiceSent(
                invoice_id=invoice_id,
                client_id=client_id,
                number="INV-0042",
                total_cents=123_456,
                currency="EUR",
                due_date=datetime.now(UTC).date(),
            ),
            tenant_id=agency.agency_id,
            source_service="billing",
        )
        paid = build_event(
            InvoicePaid(
                invoice_id=invoice_id,
                client_id=client_id,
                number="INV-0042",
                total_cents=123_456,
                amount_cents=123_456,
                currency="EUR",
                paid_at=datetime.now(UTC),
            ),
            tenant_id=agency.agency_id,
            source_service="billing",
        )
        topic = f"{platform.topic_prefix}billing.events"
        async with topic_writer(platform.infra.kafka_bootstrap) as writer:
            await writer.send_event(topic, sent)
            await writer.send_event(topic, paid)
            await writer.send_event(topic, paid)  # delivered twice: counted once

        deadline = asyncio.get_running_loop().time() + 20
        while True:
            page = await timeline(gateway, agency, client["id"])
            if page["total"] >= 2 or asyncio.get_running_loop().time() > deadline:
                break
            await asyncio.sleep(0.2)

        assert sorted(e["kind"] for e in page["items"]) == ["invoice_paid", "invoice_sent"]
        assert any("EUR 1,234.56" in e["title"] for e in page["items"])
        stored = await gateway.get(f"/v1/clients/{client['id']}", headers=agency.headers)
        assert stored.json()["total_revenue_cents"] == 123_456

    async def test_an_invoice_for_a_client_crm_does_not_have_is_skipped_not_dead_lettered(
        self,
        platform: Platform,
        gateway: httpx.AsyncClient,
        agency: AgencySession,
        other_agency: AgencySession,
    ) -> None:
        mine = await create_client(gateway, agency, currency="EUR")
        theirs = await create_client(gateway, other_agency, currency="EUR")

        def sent(client_id: str, number: str) -> Any:
            return build_event(
                InvoiceSent(
                    invoice_id=uuid.uuid4(),
                    client_id=uuid.UUID(client_id),
                    number=number,
                    total_cents=5_000,
                    currency="EUR",
                    due_date=datetime.now(UTC).date(),
                ),
                tenant_id=agency.agency_id,
                source_service="billing",
            )

        gone = sent(str(uuid.uuid4()), "INV-0001")  # a client since deleted, say
        foreign = sent(theirs["id"], "INV-0002")  # another agency's client, under this agency
        later = sent(mine["id"], "INV-0003")
        topic = f"{platform.topic_prefix}billing.events"
        async with topic_writer(platform.infra.kafka_bootstrap) as writer:
            for event in (gone, foreign, later):
                await writer.send_event(topic, event)  # one tenant: one partition, in order

        deadline = asyncio.get_running_loop().time() + 20
        while (await timeline(gateway, agency, mine["id"]))["total"] < 1:
            assert asyncio.get_running_loop().time() < deadline, "the later event never arrived"
            await asyncio.sleep(0.2)

        dead = await read_to_end(platform.infra.kafka_bootstrap, f"{topic}.dlq")
        dead_ids = {e["id"] for e in events_where(dead)}
        assert {str(gone.id), str(foreign.id)} & dead_ids == set()
        assert (await timeline(gateway, other_agency, theirs["id"]))["total"] == 0
        stored = await gateway.get(f"/v1/clients/{theirs['id']}", headers=other_agency.headers)
        assert stored.json()["total_revenue_cents"] == 0
