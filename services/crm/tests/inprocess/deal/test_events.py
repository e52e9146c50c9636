"""Who a deal is assigned to, for their notification: `crm.deal.assigned` when a deal is
created with an assignee or changes hands (never when the assignee stays or is cleared), and
`crm.deal.lost` naming the assignee. A deleted deal: `crm.deal.deleted` with the pipeline and
stage its card leaves (none when the deletion is refused)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from agencyos.common.events import ProjectCreated
from agencyos.testing.deals import about, create_client, create_deal, moved
from agencyos.testing.http import assert_problem
from agencyos.testing.inprocess import Agency, Caller, InProcess
from agencyos.testing.notices import event_of

CrmEvents = Callable[..., Awaitable[list[dict[str, Any]]]]


async def edited(
    crm: httpx.AsyncClient, who: Caller, deal_id: str, **fields: Any
) -> dict[str, Any]:
    response = await crm.patch(f"/v1/deals/{deal_id}", json=fields, headers=who.headers)
    assert response.status_code == 200, response.text
    deal: dict[str, Any] = response.json()
    return deal


async def assigned_events(crm_events: CrmEvents, who: Caller, deal_id: str) -> list[Any]:
    return about(await crm_events(who, "crm.deal.assigned"), deal_id)


class TestAssignedAtCreation:
    async def test_a_deal_created_for_another_member_tells_them_who_assigned_it(
        self,
        tenant: Agency,
        crm: httpx.AsyncClient,
        crm_events: CrmEvents,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        member = tenant.caller("member")

        deal = await create_deal(
            crm, agency, client, value_cents=42_000, assigned_to=str(member.user_id)
        )

        [event] = await assigned_events(crm_events, agency, deal["id"])
        assert event["subject"] == f"deals/{deal['id']}"
        assert event["tenantid"] == str(agency.agency_id)
        assert event["data"] == {
            "deal_id": deal["id"],
            "client_id": client["id"],
            "title": deal["title"],
            "value_cents": 42_000,
            "currency": "EUR",
            "assigned_to": str(member.user_id),
            "assigned_by": str(agency.user_id),
        }

    async def test_a_deal_its_creator_takes_by_default_is_assigned_to_the_creator(
        self, crm: httpx.AsyncClient, crm_events: CrmEvents, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client)

        [event] = await assigned_events(crm_events, agency, deal["id"])
        assert event["data"]["assigned_to"] == str(agency.user_id)
        assert event["data"]["assigned_by"] == str(agency.user_id)

    async def test_an_unassigned_deal_tells_nobody(
        self, crm: httpx.AsyncClient, crm_events: CrmEvents, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client, assigned_to=None)

        assert await assigned_events(crm_events, agency, deal["id"]) == []


class TestAssignedByAChange:
    async def test_handing_a_deal_to_another_member_tells_them_who_did(
        self,
        tenant: Agency,
        crm: httpx.AsyncClient,
        crm_events: CrmEvents,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        admin, member = tenant.caller("admin"), tenant.caller("member")
        deal = await create_deal(crm, agency, client, assigned_to=None)

        await edited(crm, admin, deal["id"], assigned_to=str(member.user_id))

        [event] = await assigned_events(crm_events, agency, deal["id"])
        assert event["data"]["assigned_to"] == str(member.user_id)
        assert event["data"]["assigned_by"] == str(admin.user_id)

    async def test_a_second_handover_is_told_again_to_the_new_assignee(
        self,
        tenant: Agency,
        crm: httpx.AsyncClient,
        crm_events: CrmEvents,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        member = tenant.caller("member")
        deal = await create_deal(crm, agency, client)

        await edited(crm, agency, deal["id"], assigned_to=str(member.user_id))
        await edited(crm, agency, deal["id"], assigned_to=str(agency.user_id))

        events = await assigned_events(crm_events, agency, deal["id"])
        assert [e["data"]["assigned_to"] for e in events] == [
            str(agency.user_id),
            str(member.user_id),
            str(agency.user_id),
        ]

    async def test_the_same_assignee_again_or_other_fields_tell_nobody(
        self,
        tenant: Agency,
        crm: httpx.AsyncClient,
        crm_events: CrmEvents,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        member = tenant.caller("member")
        deal = await create_deal(crm, agency, client, assigned_to=str(member.user_id))

        await edited(crm, agency, deal["id"], assigned_to=str(member.user_id))
        await edited(crm, agency, deal["id"], title="Renamed", value_cents=1)

        assert len(await assigned_events(crm_events, agency, deal["id"])) == 1

    async def test_clearing_the_assignee_tells_nobody(
        self, crm: httpx.AsyncClient, crm_events: CrmEvents, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client)

        cleared = await edited(crm, agency, deal["id"], assigned_to=None)

        assert cleared["assigned_to"] is None
        assert len(await assigned_events(crm_events, agency, deal["id"])) == 1


class TestLostNamesTheAssignee:
    async def test_a_lost_deal_names_its_assignee(
        self,
        tenant: Agency,
        crm: httpx.AsyncClient,
        crm_events: CrmEvents,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        member = tenant.caller("member")
        deal = await create_deal(crm, agency, client, assigned_to=str(member.user_id))

        await moved(crm, agency, deal["id"], stage="lost", lost_reason="Budget cut")

        [event] = about(await crm_events(agency), deal["id"], "crm.deal.lost")
        assert event["data"]["assigned_to"] == str(member.user_id)
        assert event["data"]["lost_by"] == str(agency.user_id)

    async def test_an_unassigned_lost_deal_names_nobody(
        self, crm: httpx.AsyncClient, crm_events: CrmEvents, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client, assigned_to=None)

        await moved(crm, agency, deal["id"], stage="lost", lost_reason="Budget cut")

        [event] = about(await crm_events(agency), deal["id"], "crm.deal.lost")
        assert event["data"].get("assigned_to") is None


async def deleted_events(crm_events: CrmEvents, who: Caller) -> list[Any]:
    return await crm_events(who, "crm.deal.deleted")


class TestDeleted:
    async def test_deleting_a_deal_publishes_the_pipeline_and_stage_its_card_leaves(
        self, crm: httpx.AsyncClient, crm_events: CrmEvents, agency: Caller, client: dict[str, Any]
    ) -> None:
        deal = await create_deal(crm, agency, client, title="Rebrand")
        proposal = await moved(crm, agency, deal["id"], stage="proposal")

        response = await crm.delete(f"/v1/deals/{deal['id']}", headers=agency.headers)

        assert response.status_code == 204, response.text
        [event] = await deleted_events(crm_events, agency)
        assert event["subject"] == f"deals/{deal['id']}"
        assert event["tenantid"] == str(agency.agency_id)
        assert event["data"] == {
            "deal_id": deal["id"],
            "client_id": client["id"],
            "title": "Rebrand",
            "pipeline_id": deal["pipeline_id"],
            "stage_id": proposal["stage_id"],
            "deleted_by": str(agency.user_id),
        }
        assert proposal["stage_id"] != deal["stage_id"]

    async def test_a_deal_that_became_a_project_stays_and_publishes_nothing(
        self,
        in_process: InProcess,
        crm: httpx.AsyncClient,
        crm_events: CrmEvents,
        agency: Caller,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(crm, agency, client)
        await moved(crm, agency, deal["id"], stage="won")
        made = ProjectCreated(
            project_id=uuid.uuid4(),
            name="Rebrand",
            client_id=uuid.UUID(client["id"]),
            deal_id=uuid.UUID(deal["id"]),
            created_by=agency.user_id,
        )
        assert await in_process.deliver("crm", event_of(made, agency.agency_id)) == "ok"

        response = await crm.delete(f"/v1/deals/{deal['id']}", headers=agency.headers)

        assert_problem(response, 409, "conflict")
        assert await deleted_events(crm_events, agency) == []

    async def test_a_refused_deletion_publishes_nothing(
        self,
        tenant: Agency,
        crm: httpx.AsyncClient,
        crm_events: CrmEvents,
        agency: Caller,
        other_agency: Caller,
        client: dict[str, Any],
    ) -> None:
        deal = await create_deal(crm, agency, client)
        theirs = await create_deal(
            crm, other_agency, await create_client(crm, other_agency, currency="EUR")
        )

        by_member = await crm.delete(
            f"/v1/deals/{deal['id']}", headers=tenant.caller("member").headers
        )
        across = await crm.delete(f"/v1/deals/{theirs['id']}", headers=agency.headers)

        assert_problem(by_member, 403, "permission-denied")
        assert_problem(across, 404, "not-found")
        assert await deleted_events(crm_events, agency) == []
        assert await deleted_events(crm_events, other_agency) == []
